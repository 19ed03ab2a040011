"""The small kit every Booking service shares: configuration, errors, schemas,
the database and RPC dependency providers, migrations."""
