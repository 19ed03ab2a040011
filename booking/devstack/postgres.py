"""A throwaway PostgreSQL server for the tests: its own data directory, port and
socket, started from the OS package and removed when stopped."""
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

    def __init__(self, port=None):
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="booking-pg-"))
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
        self._run(find_bin("initdb"), "-D", str(self.data), "-U", self.user, "--auth=trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(find_bin("pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")
        return self

    def stop(self):
        try:
            self._run(find_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _admin(self, statement):
        connection = psycopg2.connect(f"{self.base_uri}/postgres")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def create_database(self, name):
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return f"{self.base_uri}/{name}"

    def drop_database(self, name):
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
