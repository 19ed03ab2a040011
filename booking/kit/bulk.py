"""Many rows into one table at once, for seeding: a catalogue of 100,000 hotels is
1.4 million rows, a million booked room-nights another two and a half million.

On SQLite, the driver's own executemany, of the values as SQLAlchemy's column types
store them: SQLAlchemy's executemany spent twice as long building each row's
parameters as SQLite took to insert it. On PostgreSQL, COPY of CSV (Python's csv
module, in C, writes it): multi-row INSERTs were about three times slower (and are
what runs under eventlet, which COPY does not run under). Values are written as
`str()` writes them, JSON columns as `json.dumps` does, None as NULL.
"""
import csv
import io
import json

from sqlalchemy import JSON, insert, text


def insert_rows(session, table, rows):
    """Insert `rows` (dicts with the same keys, columns of `table`, a Table) in the
    session's transaction."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name not in ("sqlite", "postgresql") or (dialect.name == "postgresql" and green_psycopg2()):
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    quote = dialect.identifier_preparer.quote
    into = f"{quote(table.name)} ({', '.join(map(quote, columns))})"
    cursor = connection.connection.driver_connection.cursor()
    try:
        if dialect.name == "sqlite":
            stored = [(name, table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) for name in columns]
            cursor.executemany(f"INSERT INTO {into} VALUES ({', '.join('?' * len(columns))})",
                               ([row[name] if store is None else store(row[name]) for name, store in stored]
                                for row in rows))
        else:
            json_columns = [index for index, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
            text = io.StringIO()
            write = csv.writer(text).writerow
            for row in rows:
                values = [row[name] for name in columns]
                for index in json_columns:
                    values[index] = json.dumps(values[index])
                write([COPY_NULL if value is None else value for value in values])
            text.seek(0)
            cursor.copy_expert(f"COPY {into} FROM STDIN WITH (FORMAT csv, NULL '{COPY_NULL}')", text)
    finally:
        cursor.close()


def settle(engine):
    """After a bulk load, on PostgreSQL: VACUUM ANALYZE, so that the planner knows the
    tables' sizes at once and index-only scans find their pages all visible. Left to
    autovacuum, that happens during the first minutes of use, rereading and
    rewriting every new page meanwhile (with 100,000 hotels, a city's availability
    read took 115 ms before, 36 after). SQLite needs nothing."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


def green_psycopg2():
    """Whether eventlet made psycopg2 cooperative (in the services, and the tests):
    COPY cannot run then."""
    from psycopg2.extensions import get_wait_callback

    return get_wait_callback() is not None


# what stands for NULL in the CSV given to COPY (an empty field is an empty string
# there; a text that is exactly \N would be read as NULL: seeded data has none)
COPY_NULL = "\\N"
