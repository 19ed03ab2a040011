"""`make test`: the whole suite, in parts side by side on one test broker.

    python tests/run.py [--fast] [pytest options…]

The stacks (tests/e2e: every service as `make run` starts them, killed, scaled out)
spend most of their time waiting for restarts, sweeps and timeouts; the services'
tests (tests/unit, tests/integration) spend much of theirs waiting on their own
processes and on the browser. Run one after the other they take their sum; side by
side, about the longest part. Each part is its own pytest session with its own
PostgreSQL server, vhosts and ports; they share the test broker, started here once
(so that no session stops it under another). Each line of output is prefixed with
its part; the exit status is the worst of them.
"""
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from booking.devstack.broker import amqp_answers  # noqa: E402
from tests import TEST_AMQP_PORT, TEST_MANAGEMENT_PORT, shared_broker  # noqa: E402

# `--fast` (make test-fast): the services' tests on SQLite, without Chromium and schemathesis
# (integration first, as SERVICES below)
FAST = ["tests/integration", "tests/unit", "-k", "not postgresql and not chromium and not schemathesis"]
# the integration modules first, the unit modules (a few seconds each) last: they fill the end,
# so that the parts end within seconds of each other (taken first, they left the parts to end on
# integration modules of a minute or more: 601, 610 and 672 s into one run)
SERVICES = ["tests/integration", "tests/unit"]
# the longest module (two schemathesis runs, about a fifth of the services' tests' CPU):
# claimed in the order collected, it kept its part running 180 s after the others ended
LONGEST = "tests/integration/test_hostile_input.py"
# the stacks (tests/e2e) in two parts: these two together (each runs two of every
# service and kills some of them, beside a broker or a cluster of its own: at the
# same time, they starve each other's timing checks), the others in the second part
HEAVY_STACKS = ["tests/e2e/test_faults.py", "tests/e2e/test_scale_out.py"]
# the longest of the services' modules but LONGEST (about 100 s), taken by the second part once its
# stacks are done: claimed in its turn, late, it kept that part running 25 s after the others
AFTER_LIGHT_STACKS = "tests/integration/test_rates_and_policies.py"


def parts(claims, fast=False):
    """The suite in parts that run side by side, each a pytest session that claims
    the next test module in the folder `claims` as it goes (tests/claims.py): four,
    the first two with the stacks before anything else, the last with LONGEST; three
    alike in `--fast` (two left the machine a fifth idle, as its tests wait on their
    services: 240 s against 213 in one phase).
    (Three parts, every stack in the first, left a third of the machine idle, all
    waiting on the stacks: 500 s. Cut in advance by the durations of an earlier run
    (pytest-split's chunks), the parts ended minutes apart on a slower day: the
    services' tests slow down more than the stacks, which wait.)"""
    shared = ["-p", "tests.claims", "--claims", str(claims)]
    if fast:
        return {f"part {number}": [*FAST, *shared] for number in (1, 2, 3)}
    light_stacks = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests" / "e2e").glob("test_*.py")
                          if str(path.relative_to(ROOT)) not in HEAVY_STACKS)
    return {"part 1": [*HEAVY_STACKS, *SERVICES, *shared, "--first", "tests/e2e"],
            "part 2": [*light_stacks, *SERVICES, *shared, "--first", "tests/e2e", "--first", AFTER_LIGHT_STACKS],
            "part 3": [*SERVICES, *shared],
            "part 4": [*SERVICES, *shared, "--first", LONGEST]}


def main(options):
    fast = options[:1] == ["--fast"]
    options = options[1:] if fast else options
    uri = f"pyamqp://guest:guest@localhost:{TEST_AMQP_PORT}/"
    node = None
    if not amqp_answers(uri):
        node = shared_broker()
        node.start()
    env = {**os.environ, "AMQP_URI": uri, "RABBIT_API_URI": f"http://guest:guest@localhost:{TEST_MANAGEMENT_PORT}"}
    started = time.monotonic()
    (ROOT / "var" / "test").mkdir(parents=True, exist_ok=True)
    claims = tempfile.TemporaryDirectory(prefix="claims-", dir=ROOT / "var" / "test")
    try:
        running = {name: subprocess.Popen([sys.executable, "-m", "pytest", *paths, *options],
                                         cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True, bufsize=1)
                  for name, paths in parts(claims.name, fast).items()}
        readers = [threading.Thread(target=echo, args=(name, process)) for name, process in running.items()]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        codes = {name: process.wait() for name, process in running.items()}
    finally:
        claims.cleanup()
        if node:
            node.stop(graceful=False)  # nothing in it outlives the run; an orderly stop takes 7 s
    print(f"\n{', '.join(f'{name}: exit {code}' for name, code in codes.items())}; "
          f"{time.monotonic() - started:.0f} s in all")
    return max(codes.values())


def echo(name, process):
    for line in process.stdout:
        sys.stdout.write(f"[{name}] {line}")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
