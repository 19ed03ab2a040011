"""The project's own RabbitMQ node, from the OS package, with its data under var/.

`ensure_broker(amqp_uri)` uses the broker at `amqp_uri` when one answers there, and
otherwise starts a node of this project's own (management plugin on, so that
nameko's test fixtures can make a vhost per test). Its Erlang port mapper runs on
a port of its own so that stopping it leaves nothing of ours running.
"""
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from kombu import Connection

from booking.devstack.ports import host_port, is_listening, is_local
from booking.kit.config import PROJECT_ROOT

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
# longer than any handler takes (a bank call, a PDF, an e-mail: seconds); a delivery
# held past it was taken by a consumer that will never ack it
CONSUMER_TIMEOUT_MS = 60_000
EPMD_PORT = 4371


class BrokerError(RuntimeError):
    pass


def amqp_answers(amqp_uri, timeout=2):
    try:
        with Connection(amqp_uri, connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


def ensure_broker(amqp_uri, root=None):
    """None if a broker answers at `amqp_uri`; else the LocalBroker started for it."""
    if amqp_answers(amqp_uri):
        return None
    host, port = host_port(amqp_uri, 5672)
    if not is_local(host):
        raise BrokerError(f"No AMQP broker answers at {host}:{port} (AMQP_URI).")
    if is_listening("127.0.0.1", port):
        raise BrokerError(
            f"Port {port} is in use by something that does not accept {amqp_uri}: "
            "stop it, or set AMQP_URI to a broker that does."
        )
    broker = LocalBroker(root or PROJECT_ROOT / "var" / "rabbitmq", port=port)
    broker.start()
    if not amqp_answers(amqp_uri, timeout=10):
        broker.stop()
        raise BrokerError(f"The local broker started but {amqp_uri} does not answer.")
    return broker


class LocalBroker:
    def __init__(self, root, port=5672, management_port=15672, node="booking@localhost", settings=()):
        self.root = Path(root)
        self.port = port
        self.management_port = management_port
        self.node = node
        self.settings = list(settings)  # more lines of rabbitmq.conf
        self.process = None

    @property
    def env(self):
        return {
            **os.environ,
            "HOME": str(self.root),  # the Erlang cookie lives here
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.port + 20000),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "ERL_EPMD_PORT": str(EPMD_PORT),
        }

    @property
    def pid_file(self):
        return self.root / "rabbitmq.pid"

    def start(self, timeout=90):
        server = RABBITMQ_BIN / "rabbitmq-server"
        if not server.exists():
            raise BrokerError(
                "RabbitMQ is not installed: `make run` installs it (apt-get install rabbitmq-server)."
            )
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {self.port}\n"
            f"management.tcp.port = {self.management_port}\n"
            "loopback_users = none\n"
            # a delivery held unacked this long goes back to the queue, its consumer's
            # channel closed (docs/architecture.md, "Handling: retries and dead letters")
            f"consumer_timeout = {CONSUMER_TIMEOUT_MS}\n"
            + "".join(f"{line}\n" for line in self.settings)
        )
        self._stop_leftover()
        with open(self.root / "server.out", "ab") as log:
            self.process = subprocess.Popen(
                [str(server)], env=self.env, cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self.ctl("wait", str(self.pid_file), "--timeout", str(timeout), timeout=timeout + 5)
            self._wait_for_port(self.management_port, timeout=30)
        except Exception:
            self.stop()
            raise

    def stop(self, graceful=True):
        """Stop the node and everything it started (its port mapper too). Not
        `graceful`: killed at once, for a node whose data is thrown away (the
        tests'): an orderly stop takes 7 s even when idle."""
        if self.process is None:
            return
        try:
            if graceful:
                self.ctl("stop", str(self.pid_file), timeout=30)
            else:
                os.killpg(self.process.pid, signal.SIGKILL)
        except (BrokerError, subprocess.TimeoutExpired, ProcessLookupError):
            pass
        # the node's process group holds the Erlang VM, its helpers and its epmd
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._kill_group_leftovers()
        self.stop_port_mapper()
        self.process = None

    def stop_port_mapper(self):
        """epmd daemonises out of the node's group; it runs on our own port, so it is
        ours, but other nodes of ours (the tests run several) may still be using it."""
        epmd = shutil.which("epmd")
        if epmd and not self._other_nodes(epmd):
            subprocess.run([epmd, "-port", str(EPMD_PORT), "-kill"], env=self.env, capture_output=True)

    def _stop_leftover(self):
        """Stop this node if a process that died without stopping it left it running
        (a test run killed at its timeout does): else the new node cannot take its
        name and ports, and never writes its pid file."""
        try:
            pid = int(self.pid_file.read_text())
            leftover = b"beam" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            leftover = False
        if leftover:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)

    def kill(self):
        """The node dies at once, as in a crash (`stop` still cleans up after it)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def _other_nodes(self, epmd):
        names = subprocess.run([epmd, "-port", str(EPMD_PORT), "-names"], env=self.env,
                               capture_output=True, text=True).stdout
        return [line for line in names.splitlines() if line.startswith("name ")]

    def _kill_group_leftovers(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            time.sleep(0.1)

    def ctl(self, *args, timeout=60):
        """rabbitmqctl against this node (`ctl("stop_app")`): what it printed; raises
        BrokerError if it fails."""
        result = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, *args],
            env=self.env, capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode != 0:
            raise BrokerError(
                f"rabbitmqctl {args[0]} failed: {result.stderr.strip() or result.stdout.strip()} "
                f"(see {self.root / 'log'})"
            )
        return result.stdout

    def _wait_for_port(self, port, timeout):
        deadline = time.monotonic() + timeout
        while not is_listening("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise BrokerError(f"The broker's port {port} did not open")
            time.sleep(0.2)
