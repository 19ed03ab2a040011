"""Alembic migrations: one history per service, in `booking/<service>/migrations/`.

Each service's `migrations/env.py` is two lines that call `run_migrations` with its
metadata; `upgrade(service, uri)` is what `booking migrate` runs.
"""
import importlib
import sys

from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from booking.kit.bulk import settle
from booking.kit.database import create_db_engine, ensure_database


def alembic_config(service_name, uri):
    config = Config()
    config.set_main_option("script_location", f"booking.{service_name}:migrations")
    # `%` is interpolation syntax in alembic's ini parser
    config.set_main_option("sqlalchemy.url", uri.replace("%", "%%"))
    return config


def upgrade(service_name, uri, revision="head"):
    """Bring the service's database to `revision` (the newest by default)."""
    ensure_database(uri)
    command.upgrade(alembic_config(service_name, uri), revision)


def run_migrations(metadata):
    """Body of every service's `env.py`: run online against the configured URI."""
    engine = create_db_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            # SQLite alters tables by copying them
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


class DatabaseUnreachable(RuntimeError):
    """A service's database does not answer: one line that says which, where, and what to do."""


def unreachable(service_name, uri, error):
    url = make_url(uri)
    where = f"{url.host or 'localhost'}:{url.port or 5432}" if url.get_backend_name() == "postgresql" \
        else url.database
    reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
    return DatabaseUnreachable(
        f"{service_name}'s database at {where} cannot be reached ({reason}). Start that server, point "
        f"{service_name.upper()}_DB_URI at one, or run `make run DB=postgres` for a local one under var/.")


def migrate_all(config, out=sys.stdout):
    """Upgrade every service's database named in `DB_URIS`; DatabaseUnreachable if one
    does not answer."""
    for service_name, uri in config["DB_URIS"].items():
        try:
            upgrade(service_name, uri)
        except OperationalError as error:
            raise unreachable(service_name, uri, error) from None
        print(f"Migrated {service_name}", file=out, flush=True)


def seed_all(config, out=sys.stdout, options=None):
    """Run each service's `seed(session)` (booking/<service>/seed.py), if it has one,
    with that service's keywords of `options` ({"search": {"hotels": 25000}})."""
    options = options or {}
    for service_name, uri in config["DB_URIS"].items():
        try:
            module = importlib.import_module(f"booking.{service_name}.seed")
        except ModuleNotFoundError:
            continue
        engine = create_db_engine(uri)
        with Session(engine) as session, session.begin():
            added = module.seed(session, **options.get(service_name, {}))
        if added:
            settle(engine)
        engine.dispose()
        print(f"Seeded {service_name}: {added} new records", file=out, flush=True)
