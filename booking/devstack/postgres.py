"""A PostgreSQL server of the project's own, from the OS package: throwaway for the
tests (its own data directory, port and socket, removed when stopped), or kept
under var/postgres for `make run DB=postgres` (its data stays between runs)."""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg2
from psycopg2 import sql

from booking.devstack.ports import free_port


class PostgresError(RuntimeError):
    pass


def find_bin(name):
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]
    if not found:
        raise PostgresError(f"{name} not found: `make test` installs PostgreSQL (apt-get install postgresql)")
    return found if isinstance(found, str) else found[0]


class LocalPostgres:
    user = "postgres"

    def __init__(self, port=None, root=None):
        self.port = port or free_port()
        # a root given is kept (its data survives a stop); else a temporary one is
        self.kept = root is not None
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="booking-pg-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.data = self.root / "data"
        # PostgreSQL will not run as root: run it as the package's postgres user then
        self.run_as = "postgres" if os.geteuid() == 0 else None

    @property
    def base_uri(self):
        return f"postgresql://{self.user}@127.0.0.1:{self.port}"

    def _run(self, *argv):
        if self.run_as:
            argv = ("runuser", "-u", self.run_as, "--", *argv)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise PostgresError(f"{Path(argv[0]).name} failed: {result.stderr.strip()[-2000:]}")

    def start(self):
        if self.run_as:
            account = pwd.getpwnam(self.run_as)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            self._run(find_bin("initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
                      "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.kept:  # a throwaway server need not survive a crash
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(find_bin("pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")
        return self

    def stop(self):
        try:
            self._run(find_bin("pg_ctl"), "-D", str(self.data), "-m", "fast" if self.kept else "immediate",
                      "-w", "stop")
        finally:
            if not self.kept:
                shutil.rmtree(self.root, ignore_errors=True)

    def _admin(self, statement):
        connection = psycopg2.connect(f"{self.base_uri}/postgres")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def create_database(self, name, template=None):
        """A new database (a copy of the database `template`, if given): its URI."""
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            if int((self.data / "PG_VERSION").read_text()) >= 15:
                # copied as files, not block by block through the WAL (15's default):
                # 26 ms a database instead of 85 for the tests' copies of their templates
                statement += sql.SQL(" STRATEGY FILE_COPY")
        self._admin(statement)
        return f"{self.base_uri}/{name}"

    def drop_database(self, name):
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
