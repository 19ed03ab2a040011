"""`booking run`: the whole of Booking on this machine, as `make run` starts it."""
import os
import shlex
import signal
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from booking.devstack.broker import ensure_broker
from booking.devstack.cluster import LocalCluster
from booking.devstack.demo import GUEST, MANAGER, book_future_stay, password_of, seed_accounts
from booking.devstack.ports import host_port, is_listening, is_local
from booking.devstack.supervisor import Program, Supervisor
from booking.kit.config import PROJECT_ROOT
from booking.kit.metrics import metrics_port
from booking.kit.migrations import migrate_all, seed_all

PROCESSES_FILE = PROJECT_ROOT / "config" / "processes.yaml"
READY_TIMEOUT_SECONDS = 120
# each nameko process gets ports METRICS_PORT + 10 × its place in processes.yaml +
# (instance - 1): auth 9400, users 9410, search 9420, search-2 9421, …
METRICS_PORTS_PER_PROCESS = 10


class StackError(RuntimeError):
    pass


def programs(config, config_path, scale=None):
    """The processes to start, each instance a program of its own ("search-2")."""
    scale = scale or {}
    listed = yaml.safe_load(PROCESSES_FILE.read_text())["processes"]
    unknown = set(scale) - set(listed)
    if unknown:
        raise StackError(f"--scale names no process: {', '.join(sorted(unknown))}")
    bin_dir = Path(sys.executable).parent
    settings = {**config, "BANK_PORT": host_port(config["BANK_URL"], 8100)[1]}
    metrics_base = metrics_port(config)
    result = []
    slot = 0
    for name, spec in listed.items():
        if "local_only" in spec and not is_local(config[spec["local_only"]]):
            continue
        argv = shlex.split(spec["command"].format(config=config_path, **settings))
        is_service = argv[0] == "nameko"  # the mail sink and the bank serve no metrics
        with_metrics = is_service and metrics_base is not None
        argv[0] = str(bin_dir / argv[0])
        count = scale.get(name, 1)
        if with_metrics and count > METRICS_PORTS_PER_PROCESS:
            raise StackError(f"--scale {name}={count}: at most {METRICS_PORTS_PER_PROCESS} instances "
                             f"get a metrics port of their own (METRICS_PORT=0 turns metrics off)")
        for index in range(1, count + 1):
            env = {}
            if with_metrics:
                env["METRICS_PORT"] = str(metrics_base + METRICS_PORTS_PER_PROCESS * slot + index - 1)
            result.append(Program(name if count == 1 else f"{name}-{index}", argv, env=env))
        slot += is_service
    return result


def describe_metrics(programs):
    """Where Prometheus finds each process's metrics, and any port that is taken."""
    served = [(program.name, int(program.env["METRICS_PORT"])) for program in programs
              if "METRICS_PORT" in program.env]
    if not served:
        return "Metrics: off (METRICS_PORT=0)"
    lines = ["Metrics for Prometheus at http://localhost:PORT/metrics: "
             + ", ".join(f"{name} {port}" for name, port in served)]
    lines += [f"Metrics: port {port} is in use; {name} will run without metrics"
              for name, port in served if is_listening("127.0.0.1", port)]
    return "\n".join(lines)


def check_ports_free(config):
    ports = [("WEB_SERVER_ADDRESS", *host_port(config["WEB_SERVER_ADDRESS"], 8000), "0.0.0.0:{}")]
    if is_local(config["SMTP_HOST"]):
        ports.append(("SMTP_PORT", "127.0.0.1", int(config["SMTP_PORT"]), "{}"))
    if is_local(config["BANK_URL"]):
        ports.append(("BANK_URL", "127.0.0.1", host_port(config["BANK_URL"], 8100)[1], "http://localhost:{}"))
    for setting, host, port, example in ports:
        if is_listening("127.0.0.1" if host == "0.0.0.0" else host, port):
            raise StackError(
                f"Port {port} is already in use (is Booking already running?). Stop what "
                f"uses it, or choose another: {setting}={example.format(port + 1)} make run"
            )


def wait_until_ready(url, supervisor, stopping, timeout=READY_TIMEOUT_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping:
        supervisor.check()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def start_broker(config, cluster_size, out):
    """The broker at AMQP_URI (started here if it is ours and not running), or a
    cluster of `cluster_size` local nodes that every process is pointed at."""
    if not cluster_size:
        broker = ensure_broker(config["AMQP_URI"])
        print("Broker: " + ("started a local node (var/rabbitmq)" if broker else "using the one at AMQP_URI"),
              file=out, flush=True)
        return broker
    cluster = LocalCluster(PROJECT_ROOT / "var" / "rabbitmq-cluster", size=cluster_size).start()
    config["AMQP_URI"] = os.environ["AMQP_URI"] = cluster.amqp_uri  # the services read it from there
    print(f"Broker: a cluster of {cluster_size} local nodes (var/rabbitmq-cluster), quorum queues: "
          f"{cluster.amqp_uri}", file=out, flush=True)
    return cluster


# `make run DB=postgres`: a server of the project's own, its data kept under var/
LOCAL_POSTGRES_PORT = 5433


def start_local_postgres(config, out):
    """A PostgreSQL server under var/postgres (kept between runs) for every service's
    database: the configuration and the services' environment point at it."""
    from booking.devstack.postgres import LocalPostgres

    print(f"Starting PostgreSQL (var/postgres, port {LOCAL_POSTGRES_PORT})…", file=out, flush=True)
    server = LocalPostgres(port=LOCAL_POSTGRES_PORT, root=PROJECT_ROOT / "var" / "postgres").start()
    for service in config["DB_URIS"]:
        uri = f"{server.base_uri}/booking_{service}"
        config["DB_URIS"][service] = os.environ[f"{service.upper()}_DB_URI"] = uri
    return server


def run(config, config_path, scale=None, seed=True, cluster_size=0, local_postgres=False,
        log_dir=PROJECT_ROOT / "var" / "log", out=sys.stdout):
    """Start everything, print the URL, keep it running until Ctrl-C or SIGTERM."""
    check_ports_free(config)
    stopping = []

    def request_stop(signum, _frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    print("Starting the broker…", file=out, flush=True)
    broker = start_broker(config, cluster_size, out)
    supervisor = database = None
    try:
        if local_postgres:
            database = start_local_postgres(config, out)
        migrate_all(config, out=out)
        demo = seed and bool(config.get("DEMO_ACCOUNTS"))
        if seed:
            seed_all(config, out=out)
        if demo:
            seed_accounts(config, out)
        supervisor = Supervisor(programs(config, config_path, scale), log_dir, out=out)
        metrics = describe_metrics(supervisor.programs)
        supervisor.start_all()
        _, port = host_port(config["WEB_SERVER_ADDRESS"], 8000)
        if wait_until_ready(f"http://127.0.0.1:{port}/ready", supervisor, stopping) and not stopping:
            accounts = ""
            if demo:
                try:
                    book_future_stay(config, f"http://127.0.0.1:{port}", out)
                except Exception as error:  # the platform runs anyway; the demo guest lacks a stay
                    print(f"The demo guest's stay to come could not be booked: {error}", file=out, flush=True)
                accounts = (f"Log in as {GUEST} (a guest) or {MANAGER} (a hotel manager: /partner), "
                            f"password: {password_of(config)}\n")
            print(f"\nBooking is ready: {config['PUBLIC_URL']}  (Ctrl-C stops everything)\n{accounts}{metrics}\n",
                  file=out, flush=True)
        elif not stopping:
            print(f"Booking did not become ready in time; see the logs above and {log_dir}/.",
                  file=out, flush=True)
        while not stopping:
            supervisor.check()
            time.sleep(0.5)
    finally:
        print("Stopping…", file=out, flush=True)
        if supervisor:
            supervisor.stop_all()
        if broker:
            broker.stop()
            print("Broker stopped.", file=out, flush=True)
        if database:
            database.stop()
            print("PostgreSQL stopped.", file=out, flush=True)
    return 0

