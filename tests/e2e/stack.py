"""The whole of Booking run as `make run` runs it (`booking run` in a subprocess),
for the tests that need real processes to kill and a real broker to stop."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import eventlet

from booking.devstack.ports import free_port, is_listening
from booking.kit.config import PROJECT_ROOT

BOOKING = str(Path(sys.executable).parent / "booking")


def stack_environment(amqp_uri, tmp_path, **settings):
    """The environment of a stack of its own: this broker, free ports, files under tmp_path."""
    port = free_port()
    return {
        **os.environ,
        "AMQP_URI": amqp_uri,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
        "METRICS_PORT": str(free_metrics_base()),
        "PUBLIC_URL": f"http://localhost:{port}",
        **{f"{service.upper()}_DB_URI": f"sqlite:///{tmp_path}/{service}.db"
           for service in ("search", "users", "auth", "reservations", "payments")},
        "BANK_URL": f"http://localhost:{free_port()}",
        "BANK_LEDGER": str(tmp_path / "bank.db"),
        "SMTP_PORT": str(free_port()),
        "MAIL_DIR": str(tmp_path / "mail"),
        # these stacks' guests never open their verification link (config/postgres.yaml
        # requires it); tests/integration/test_accounts.py tests the rule itself
        "REQUIRE_VERIFIED_EMAIL": "false",
        # holds past their expiry are swept every 5 s, not every 30: the tests wait
        # for them to expire (bookings.py still holds them to the product's promise)
        "HOLD_SWEEP_SECONDS": "5",
        **{name: str(value) for name, value in settings.items()},
    }


def free_metrics_base():
    """A METRICS_PORT from which every service's port is free, below the range the
    kernel hands out (free_port), so that no other test takes one meanwhile. Each
    pytest session looks from a place of its own: make test runs stacks in two
    sessions at once, and a port is taken only once its service has started."""
    start = 100 * (os.getpid() % 80)
    for offset in range(0, 8000, 100):
        base = 21000 + (start + offset) % 8000
        if not any(is_listening("127.0.0.1", base + port) for port in range(0, 70, 10)):
            return base
    raise AssertionError("no free range of metrics ports")


class Stack:
    """`booking run` with this environment and these arguments, its processes'
    logs in `logs` (var/log is make run's, and two stacks may run at once)."""

    def __init__(self, env, *arguments, logs, config="config.yaml"):
        self.env, self.logs = env, Path(logs)
        self.url = env["PUBLIC_URL"]
        self.process = subprocess.Popen(
            [BOOKING, "--config", config, "run", "--logs", str(logs), *arguments], cwd=PROJECT_ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines = []
        eventlet.spawn(self._read)

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    @property
    def output(self):
        return "\n".join(self.lines)

    def wait_for(self, pattern, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output)
            if match:
                return match
            if self.process.poll() is not None:
                break
            eventlet.sleep(0.2)
        raise AssertionError(f"never saw {pattern!r}; output:\n{self.output[-20000:]}")

    def pids(self):
        """The pid of each program ("search", or "search-2" when scaled), latest start first."""
        return {name: int(pid) for name, pid in re.findall(r"([\w-]+) \| started \(pid (\d+)\)", self.output)}

    def metrics_ports(self):
        """{program: its metrics port}, as `booking run` announced them."""
        announced = re.search(r"Metrics for Prometheus at \S+: (.*)", self.output)
        return {name: int(port) for name, port in re.findall(r"([\w-]+) (\d+)", announced.group(1))} \
            if announced else {}

    def stop(self):
        """Ctrl-C, as a developer stops it; True when every child is gone."""
        children = set(self.pids().values())
        self.process.send_signal(2)
        code = self.process.wait(timeout=60)
        return code == 0 and not [pid for pid in children if alive(pid)]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purpose; only its parent's wait() is missing
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"
