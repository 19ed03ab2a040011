"""booking.devstack.supervisor with real processes: nothing it started outlives
it, however it dies (`make run`'s Ctrl-C stops it in order; a SIGKILL cannot)."""
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from booking.kit.config import PROJECT_ROOT
from tests import eventually

SUPERVISE = """
    import sys, time
    from pathlib import Path
    from booking.devstack.supervisor import Program, Supervisor
    sleeper = Program("sleeper", [sys.executable, "-c", "import time; time.sleep(300)"])
    Supervisor([sleeper], Path(sys.argv[1])).start_all()
    time.sleep(300)
"""


def running(pid):
    """True while `pid` runs (a zombie left for its new parent to reap does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_supervisor_killed_with_sigkill_takes_what_it_started_with_it(tmp_path):
    supervisor = subprocess.Popen([sys.executable, "-c", textwrap.dedent(SUPERVISE), str(tmp_path)],
                                  cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    started = supervisor.stdout.readline()
    child = int(re.search(r"started \(pid (\d+)\)", started).group(1))
    assert running(child)

    os.kill(supervisor.pid, signal.SIGKILL)
    supervisor.wait(10)
    eventually(lambda: not running(child), timeout=10)
