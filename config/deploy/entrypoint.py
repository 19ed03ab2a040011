"""The image's entrypoint: run the container's command, but refuse to start a
`nameko` or `booking` command while a secret is missing, empty, a placeholder or
the development default.

config/postgres.yaml falls back to a development value for every secret it reads
(`${SESSION_SECRET:dev-only-...}`), and those values are
public: a deployment that forgot one would run with it, silently. Compose refuses
to start without them (`${VAR:?}` in compose.yaml); Kubernetes has no such check,
so the image makes it. BOOKING_ALLOW_DEV_SECRETS=1 skips it (for trying the image).

Standard library only: it runs before anything else, in every container.
"""
import os
import re
import sys
from pathlib import Path

DEFAULT_CONFIG = "/app/config/postgres.yaml"
CHECKED_COMMANDS = {"nameko", "booking"}
# ${NAME:default} in a nameko config file
SETTING = re.compile(r"\$\{([A-Z][A-Z0-9_]*):([^}]*)\}")
# a publishable key is not one: it can only tokenize cards, and is meant to be shown
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSPHRASE|(?<!PUBLISHABLE)_KEY$")
PLACEHOLDER = re.compile(r"^<.*>$|change.?me|replace.?me|placeholder", re.IGNORECASE)
MIN_LENGTH = 16
EX_CONFIG = 78


def secret_settings(config_text):
    """{NAME: development default} for every secret the config reads with a default
    (an empty default, such as SMTP_PASSWORD's, means "none" and is safe)."""
    return {name: default for name, default in SETTING.findall(config_text)
            if SECRET_NAME.search(name) and default}


def problems(environ, secrets):
    """What is wrong with the secrets in `environ`, one sentence each."""
    for name, development_default in sorted(secrets.items()):
        value = environ.get(name, "")
        if not value:
            yield f"{name} is not set"
        elif value == development_default:
            yield f"{name} is the public development default"
        elif PLACEHOLDER.search(value):
            yield f"{name} is still a placeholder"
        elif len(value) < MIN_LENGTH:
            yield f"{name} is shorter than {MIN_LENGTH} characters"


def config_path(argv, environ):
    if "--config" in argv[:-1]:
        return argv[argv.index("--config") + 1]
    return environ.get("BOOKING_CONFIG", DEFAULT_CONFIG)


def main(argv, environ=os.environ):
    if not argv:
        print("usage: entrypoint.py COMMAND [ARGUMENT ...]", file=sys.stderr)
        return 2
    checked = Path(argv[0]).name in CHECKED_COMMANDS and environ.get("BOOKING_ALLOW_DEV_SECRETS") != "1"
    if checked:
        secrets = secret_settings(Path(config_path(argv, environ)).read_text())
        found = list(problems(environ, secrets))
        if found:
            print("Booking will not start: " + "; ".join(found) + ". Set them from the secrets "
                  "(see config/deploy/secrets.env.example).", file=sys.stderr)
            return EX_CONFIG
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
