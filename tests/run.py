"""`make test`: the whole suite, its two halves side by side on one test broker.

    python tests/run.py [--fast] [pytest options…]

The stacks (tests/e2e: every service as `make run` starts them, killed, scaled out)
spend most of their time waiting for restarts, sweeps and timeouts; the services'
tests (tests/unit, tests/integration) spend theirs working. Run one after the other
they take their sum; side by side, about the longer of the two. Each half is its own
pytest session with its own PostgreSQL server, vhosts and ports; they share the
test broker, started here once (so that neither session stops it under the other).
Each line of output is prefixed with its half; the exit status is the worse of the two.
"""
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from booking.devstack.broker import LocalBroker, amqp_answers  # noqa: E402
from tests import TEST_AMQP_PORT, TEST_MANAGEMENT_PORT  # noqa: E402

HALVES = {"stacks": ["tests/e2e"], "services": ["tests/unit", "tests/integration"]}
# `--fast` (make test-fast): the services' tests on SQLite, without Chromium and
# schemathesis, the integration files dealt out between two halves
FAST_SKIPS = ["-k", "not postgresql and not chromium and not schemathesis"]


def fast_halves():
    files = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests" / "integration").glob("test_*.py"))
    return {"unit+": ["tests/unit", *files[0::2], *FAST_SKIPS], "integration": [*files[1::2], *FAST_SKIPS]}


def main(options):
    halves_run = HALVES
    if options[:1] == ["--fast"]:
        halves_run, options = fast_halves(), options[1:]
    uri = f"pyamqp://guest:guest@localhost:{TEST_AMQP_PORT}/"
    node = None
    if not amqp_answers(uri):
        node = LocalBroker(ROOT / "var" / "test" / "rabbitmq", port=TEST_AMQP_PORT,
                           management_port=TEST_MANAGEMENT_PORT, node="booking-test@localhost")
        node.start()
    env = {**os.environ, "AMQP_URI": uri, "RABBIT_API_URI": f"http://guest:guest@localhost:{TEST_MANAGEMENT_PORT}"}
    started = time.monotonic()
    try:
        halves = {name: subprocess.Popen([sys.executable, "-m", "pytest", *paths, *options], cwd=ROOT, env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
                  for name, paths in halves_run.items()}
        readers = [threading.Thread(target=echo, args=(name, process)) for name, process in halves.items()]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        codes = {name: process.wait() for name, process in halves.items()}
    finally:
        if node:
            node.stop()
    print(f"\n{', '.join(f'{name}: exit {code}' for name, code in codes.items())}; "
          f"{time.monotonic() - started:.0f} s in all")
    return max(codes.values())


def echo(name, process):
    for line in process.stdout:
        sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
