"""Keep a set of processes running: start each, echo its output with its name,
restart it with backoff when it dies, and stop them all on request.

The log files keep each line as the process wrote it (JSON lines from the
services); the terminal shows JSON lines as text (`booking.kit.logs.readable`)."""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from booking.kit.logs import readable

# nameko 2.14's CLI imports pkg_resources and eventlet, and both say they are old
QUIET_WARNINGS = "ignore:pkg_resources is deprecated:UserWarning,ignore:::nameko.cli.commands"
MAX_BACKOFF_SECONDS = 30
# a process that ran this long is healthy again: its next restart waits 1 s
HEALTHY_AFTER_SECONDS = 60
# util-linux's setpriv: each child gets SIGTERM when the supervisor dies, however it
# dies (SIGKILL; a test run killed at its timeout), so that no service outlives it
SETPRIV = shutil.which("setpriv")


@dataclass
class Program:
    name: str
    argv: list
    env: dict = field(default_factory=dict)  # this program's own settings (its METRICS_PORT)
    process: subprocess.Popen = None
    started_at: float = 0.0
    restart_at: float = None
    failures: int = 0
    threads: list = field(default_factory=list)


class Supervisor:
    def __init__(self, programs, log_dir, env=None, out=sys.stdout):
        self.programs = programs
        self.log_dir = log_dir
        self.env = {"PYTHONWARNINGS": QUIET_WARNINGS, **(env or os.environ)}
        self.out = out
        self.lock = threading.Lock()
        self.width = max(len(program.name) for program in programs)

    def say(self, name, text):
        with self.lock:
            for line in text.split("\n"):
                self.out.write(f"{name:>{self.width}} | {line}\n")
            self.out.flush()

    def start_all(self):
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for program in self.programs:
            self._start(program)

    def _start(self, program):
        # a session of its own: Ctrl-C reaches the supervisor, which stops children in order
        argv = [SETPRIV, "--pdeathsig", "TERM", "--", *program.argv] if SETPRIV else program.argv
        program.process = subprocess.Popen(
            argv, env={**self.env, **program.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        program.started_at = time.monotonic()
        program.restart_at = None
        self.say(program.name, f"started (pid {program.process.pid})")
        thread = threading.Thread(target=self._echo, args=(program, program.process), daemon=True)
        thread.start()
        program.threads = [thread]

    def _echo(self, program, process):
        with open(self.log_dir / f"{program.name}.log", "ab") as log:
            for raw in process.stdout:
                log.write(raw)
                log.flush()
                self.say(program.name, readable(raw.decode(errors="replace").rstrip()))

    def check(self):
        """Restart what died, after a backoff that doubles with each quick death."""
        now = time.monotonic()
        for program in self.programs:
            if program.restart_at is not None:
                if now >= program.restart_at:
                    self._start(program)
                continue
            code = program.process.poll()
            if code is None:
                continue
            if now - program.started_at > HEALTHY_AFTER_SECONDS:
                program.failures = 0
            delay = min(2 ** program.failures, MAX_BACKOFF_SECONDS)
            program.failures += 1
            program.restart_at = now + delay
            self.say(program.name, f"exited with code {code}; restarting in {delay} s")

    def stop_all(self, timeout=15):
        running = [p for p in self.programs if p.process and p.process.poll() is None]
        for program in running:
            self._signal(program, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for program in running:
            try:
                program.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.say(program.name, "did not stop in time; killing it")
                self._signal(program, signal.SIGKILL)
                program.process.wait()
            self._signal(program, signal.SIGKILL)  # anything it left in its group
            for thread in program.threads:
                thread.join(timeout=2)
            self.say(program.name, "stopped")

    @staticmethod
    def _signal(program, signum):
        try:
            os.killpg(program.process.pid, signum)
        except ProcessLookupError:
            pass
