"""Each service's own database, as a nameko-sqlalchemy dependency provider.

`Database(Base)` reads its URI from `DB_URIS[<service name>]`: an SQLite file by
default, PostgreSQL when configured. Use `with self.db.get_session() as session:`
for writes, so a transaction is committed (or rolled back) before the method makes
any RPC or HTTP call: under eventlet an open SQLite write transaction would block
every other writer in the process.
"""
from pathlib import Path

import nameko_sqlalchemy
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from booking.kit.config import db_uri

SQLITE_BUSY_TIMEOUT_SECONDS = 15


def create_db_engine(uri, **options):
    """An engine tuned for this project: WAL and a busy timeout on SQLite,
    connection checks on PostgreSQL."""
    url = make_url(uri)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        options.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def ensure_database(uri):
    """Create the service's PostgreSQL database if the server lacks it (SQLite files
    appear by themselves)."""
    url = make_url(uri)
    if url.get_backend_name() != "postgresql":
        return
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            )
            if not exists:
                quoted = connection.dialect.identifier_preparer.quote(url.database)
                connection.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        server.dispose()


def _tune_sqlite(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one writer commits; NORMAL is durable in WAL mode
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database(nameko_sqlalchemy.Database):
    """The service's database: `DB_URIS[<service name>]` in the config."""

    def setup(self):
        self.db_uri = db_uri(self.container.config, self.container.service_name)
        self.engine = create_db_engine(self.db_uri, **self.engine_options)
        self.Session = sessionmaker(
            bind=self.engine, class_=nameko_sqlalchemy.database.Session, **self.session_options
        )
