"""gateway: the one HTTP entrypoint service (booking UI and public JSON API)."""
