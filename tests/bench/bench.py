"""`make bench`: where a search request's time goes, measured on this machine.

Starts the stack as `make run` does (its own web port, logs at WARNING), then
loads it on loopback for a bounded time (from wrk, the mix from http_load.py):

1. GET /api/v1/hotels?city=…  gateway -> search RPC -> SQLite, at 1, 10, 50 clients
2. GET /ready?service=search   gateway -> a bare echo RPC (search.ping), same clients
3. raw AMQP request/reply with kombu, no nameko: one at a time and 50 in flight
4. complete bookings (hold, pay with the sandbox bank, confirmed) at 10 clients,
   with the CPU each process of the stack and the broker spent per booking
5. booking confirmations rendered by reports (RPC, one at a time and 4 at once)
6. the hotel-reservation mix of DeathStarBench (mix.py): open loop at a ladder of
   arrival rates (--rates), then closed loop at saturation (--saturation-clients)

then checks that no night of any room type is held beyond its rooms, and prints
req/s, p50 and p99 for each, with the ratios between them. This is a benchmark,
not a test: it asserts nothing and its figures vary with the machine.

With --scale it runs scale.py instead: the same stack on catalogues of 2,500 to
100,000 hotels with a million room-nights booked, on SQLite and PostgreSQL.
"""
import argparse
import json
import multiprocessing
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import requests
from kombu import Connection, Consumer, Exchange, Producer, Queue

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import mix  # noqa: E402
import mix_report  # noqa: E402
import scale  # noqa: E402
from cpu import CpuMeter  # noqa: E402

from booking.devstack.broker import ensure_broker  # noqa: E402
from booking.devstack.ports import free_port  # noqa: E402
from booking.search.seed import restricted  # noqa: E402

AMQP_URI = os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")
CITIES = ["Paris", "London", "Rome", "Berlin", "Madrid", "Amsterdam", "Lisbon", "Vienna",
          "Prague", "New York", "Tokyo", "zurich"]
CLIENTS = (1, 10, 50)

ROTATING_CITIES = """
local cities = {%s}
local i = 0
request = function()
  i = i %% #cities + 1
  return wrk.format("GET", "/api/v1/hotels?city=" .. cities[i])
end
"""


# -- HTTP through the gateway -------------------------------------------------

def wrk(url, clients, seconds, script=None):
    argv = ["wrk", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if script:
        argv += ["-s", script]
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "clients": clients,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency_ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99_ms": latency_ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        "errors": errors + (int(non_2xx.group(1)) if non_2xx else 0),
    }


def latency_ms(text):
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


BENCH_VAR = ROOT / "var" / "bench"


def bench_env(port):
    """The environment of the bench's processes: its own ports, its own databases under var/bench/."""
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}", "PUBLIC_URL": f"http://localhost:{port}",
           "LOG_LEVEL": "WARNING", "AMQP_URI": AMQP_URI, "SMTP_PORT": str(free_port()),
           "MAIL_DIR": str(BENCH_VAR / "mail"), "BANK_URL": f"http://localhost:{free_port()}",
           "BANK_LEDGER": str(BENCH_VAR / "bank.db")}
    for service in ("search", "users", "auth", "reservations", "payments"):
        env[f"{service.upper()}_DB_URI"] = f"sqlite:///{BENCH_VAR / service}.db"
    return env


def start_stack(port, gateways, env=None, config=None, seed=True):
    """`booking run` with `gateways` gateway instances sharing the port, in `env`
    (default: `bench_env`), with `config` (default config.yaml); `seed=False`: its
    databases are seeded already."""
    argv = [str(Path(sys.executable).parent / "booking"), *(["--config", str(config)] if config else []), "run",
            f"--scale=gateway={gateways}", *([] if seed else ["--no-seed"])]
    stack = subprocess.Popen(argv, cwd=ROOT, env=env or bench_env(port),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, last_lines = time.monotonic() + 180, deque(maxlen=30)
    for line in stack.stdout:
        last_lines.append(line)
        if "Booking is ready" in line:
            threading.Thread(target=lambda: [None for _ in stack.stdout], daemon=True).start()
            return stack
        if time.monotonic() > deadline:
            break
    stack.send_signal(signal.SIGINT)
    raise SystemExit("the stack did not become ready:\n" + "".join(last_lines))


def run_monolith(args):
    """The mix again, served by one process (monolith.py) on the same databases, with
    the sandbox bank: the stack is stopped by then."""
    port, bank_port = free_port(), free_port()
    env = {**bench_env(port), "BANK_URL": f"http://localhost:{bank_port}"}
    started = [subprocess.Popen([sys.executable, "-m", "booking.devstack.bank", "--port", str(bank_port),
                                 "--ledger", env["BANK_LEDGER"]], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.STDOUT),
               subprocess.Popen([sys.executable, str(ROOT / "tests" / "bench" / "monolith.py"), str(port)],
                                cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)]
    try:
        deadline = time.monotonic() + 60
        while not all(listening(p) for p in (port, bank_port)):
            if time.monotonic() > deadline or started[1].poll() is not None:
                raise SystemExit("the monolith did not start: " + (started[1].stderr.read() if started[1].poll()
                                                                    is not None else "no answer"))
            time.sleep(0.2)
        return mix.run(port, args.seconds, args.rates, args.saturation_clients, meter=CpuMeter(started[1].pid))
    finally:
        for process in started:
            process.terminate()
            process.wait(30)


def listening(port):
    try:
        requests.get(f"http://127.0.0.1:{port}/", timeout=1)
        return True
    except requests.ConnectionError:
        return False


# -- complete bookings ---------------------------------------------------------

def bench_bookings(base, seconds, meter, clients=10):
    """Hold and pay, as fast as `clients` guests can, for `seconds`; and the CPU each
    process of the stack spent per complete booking meanwhile (`meter`, a CpuMeter)."""
    account = {"email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": "benchmark guest 2026",
               "full_name": "Bench Guest"}
    requests.post(f"{base}/api/v1/users", json=account, timeout=30).raise_for_status()
    login = requests.post(f"{base}/api/v1/auth/login", timeout=30,
                          json={k: account[k] for k in ("email", "password")}).json()
    headers = {"Authorization": f"Bearer {login['access_token']}"}
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": date.today().year + 2,
            "cvc": "123", "holder": "Bench Guest"}
    end = time.monotonic() + seconds
    rng = random.Random()  # new stays each run: the bench databases keep the last run's bookings
    # hotels whose calendar sells any stay (the others close days or ask for longer stays)
    hotels = [hotel_id for hotel_id in range(1, 2001) if not restricted(hotel_id)]

    def guest(_):
        done, failed, latencies = 0, 0, []
        with requests.Session() as session:
            session.headers.update(headers)
            while time.monotonic() < end:
                check_in = date.today() + timedelta(days=rng.randint(1, 300))
                started = time.perf_counter()
                held = session.post(f"{base}/api/v1/reservations", timeout=30, json={
                    "hotel_id": rng.choice(hotels), "room_type": "double", "guests": 2,
                    "check_in": check_in.isoformat(), "check_out": (check_in + timedelta(days=2)).isoformat(),
                }, headers={"Idempotency-Key": uuid.uuid4().hex})
                if held.status_code != 201:
                    failed += 1
                    continue
                paid = session.post(f"{base}/api/v1/reservations/{held.json()['id']}/payment", timeout=30,
                                    json={"card": card}, headers={"Idempotency-Key": uuid.uuid4().hex})
                if paid.status_code == 200:
                    done += 1
                    latencies.append(time.perf_counter() - started)
                else:
                    failed += 1
        return done, failed, latencies

    started, cpu_before = time.monotonic(), meter.read()
    with ThreadPoolExecutor(clients) as pool:
        outcomes = list(pool.map(guest, range(clients)))
    elapsed, cpu_spent = time.monotonic() - started, meter.since(cpu_before)
    latencies = sorted(latency for _, _, found in outcomes for latency in found)
    completed = sum(done for done, _, _ in outcomes)
    return {
        "clients": clients,
        "rps": completed / elapsed,
        "cores_busy": sum(cpu_spent.values()) / elapsed,
        "cpu_ms_per_booking": {name: 1000 * spent / max(completed, 1) for name, spent in cpu_spent.items()},
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0,
        "errors": sum(failed for _, failed, _ in outcomes),
    }


def bench_renders(base, seconds):
    """Confirmation PDFs rendered through the reports service, over RPC."""
    from nameko.standalone.rpc import ClusterRpcProxy

    token = requests.post(f"{base}/oauth/token", timeout=30, data={
        "grant_type": "client_credentials", "client_id": "developer",
        "client_secret": os.environ.get("DEVELOPER_CLIENT_SECRET", "dev-developer-secret")}).json()
    config = {"AMQP_URI": AMQP_URI}
    data = {"reference": "BK7F3K9QX2", "guest_name": "Zoë Ångström", "hotel_name": "Grand Hôtel Łódź 東京",
            "hotel_address": "1 Piotrkowska, Łódź", "room_name": "Junior Suite", "guests": 2,
            "check_in": "2027-03-01", "check_out": "2027-03-04", "nightly_price": "150.00", "taxes": "40.91",
            "total": "450.00", "currency": "EUR"}

    def renderer(end):
        latencies = []
        with ClusterRpcProxy(config, context_data={"authorization": f"Bearer {token['access_token']}"}) as rpc:
            while time.monotonic() < end:
                started = time.perf_counter()
                rpc.reports.render("booking_confirmation", data)
                latencies.append(time.perf_counter() - started)
        return latencies

    rows = []
    for clients in (1, 4):
        started = time.monotonic()
        with ThreadPoolExecutor(clients) as pool:
            found = sorted(x for run in pool.map(renderer, [started + seconds] * clients) for x in run)
        elapsed = time.monotonic() - started
        rows.append({"clients": clients, "rps": len(found) / elapsed, "p50_ms": found[len(found) // 2] * 1000,
                     "p99_ms": found[int(len(found) * 0.99)] * 1000, "errors": 0})
    return rows


def double_bookings():
    """Nights held beyond their rooms, by the reservations database."""
    with sqlite3.connect(BENCH_VAR / "reservations.db") as db:
        return db.execute("SELECT COUNT(*) FROM room_nights WHERE held > capacity").fetchone()[0]


# -- raw AMQP request/reply ---------------------------------------------------

def echo_server(ready, stop):
    with Connection(AMQP_URI) as connection:
        channel = connection.channel()
        producer = Producer(channel, serializer="json")
        queue = Queue("bench-echo", exchange=Exchange("bench", type="direct", durable=False),
                      routing_key="echo", auto_delete=True, durable=False)

        def reply(body, message):
            producer.publish(body, routing_key=message.properties["reply_to"],
                             correlation_id=message.properties["correlation_id"])
            message.ack()

        with Consumer(channel, [queue], callbacks=[reply], prefetch_count=100):
            ready.set()
            while not stop.is_set():
                try:
                    connection.drain_events(timeout=0.5)
                except TimeoutError:
                    pass


def amqp_request_reply(in_flight, seconds):
    with Connection(AMQP_URI) as connection:
        channel = connection.channel()
        reply_queue = Queue(f"bench-reply-{uuid.uuid4().hex}", exclusive=True, auto_delete=True)
        producer = Producer(channel, exchange=Exchange("bench", type="direct", durable=False),
                            serializer="json")
        sent, latencies = {}, []

        def on_reply(body, message):
            latencies.append(time.perf_counter() - sent.pop(message.properties["correlation_id"]))
            message.ack()

        def request():
            correlation_id = uuid.uuid4().hex
            sent[correlation_id] = time.perf_counter()
            producer.publish({"args": ["ping"]}, routing_key="echo", reply_to=reply_queue.name,
                             correlation_id=correlation_id)

        with Consumer(channel, [reply_queue], callbacks=[on_reply], prefetch_count=in_flight * 2):
            end = time.perf_counter() + seconds
            started = time.perf_counter()
            for _ in range(in_flight):
                request()
            while time.perf_counter() < end:
                connection.drain_events(timeout=5)
                while len(sent) < in_flight and time.perf_counter() < end:
                    request()
            elapsed = time.perf_counter() - started
            while sent:
                connection.drain_events(timeout=5)
    latencies.sort()
    return {
        "clients": in_flight,
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": 0,
    }


def bench_amqp(seconds):
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    server = multiprocessing.Process(target=echo_server, args=(ready, stop))
    server.start()
    ready.wait(30)
    try:
        return [amqp_request_reply(in_flight, seconds) for in_flight in (1, 50)]
    finally:
        stop.set()
        server.join(10)


# -- report ---------------------------------------------------------------------

def table(title, rows):
    print(f"\n{title}")
    print(f"  {'clients':>7}  {'req/s':>9}  {'p50 ms':>8}  {'p99 ms':>8}  {'errors':>6}")
    for row in rows:
        print(f"  {row['clients']:>7}  {row['rps']:>9.0f}  {row['p50_ms']:>8.2f}  {row['p99_ms']:>8.2f}"
              f"  {row['errors']:>6}")


def cpu_table(bookings):
    """Where a complete booking's CPU goes: the profile that says what caps bookings/s."""
    costs = sorted(bookings["cpu_ms_per_booking"].items(), key=lambda item: -item[1])
    total = sum(ms for _, ms in costs)
    print(f"\n  CPU per complete booking, by process ({bookings['cores_busy']:.2f} of {os.cpu_count()} cores busy)")
    for name, ms in costs:
        print(f"  {name:>18}  {ms:6.1f} ms  {100 * ms / total:4.0f}%")
    print(f"  {'all':>18}  {total:6.1f} ms  -> at most {1000 * os.cpu_count() / total:.0f} bookings/s "
          f"on {os.cpu_count()} cores")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each load run")
    parser.add_argument("--rates", type=rates, default=[50, 100, 200, 300, 400],
                        help="the mix's open-loop arrival rates, req/s, comma-separated (default 50,100,200,300,400)")
    parser.add_argument("--saturation-clients", type=int, default=50,
                        help="the mix's closed-loop clients at saturation (default 50)")
    parser.add_argument("--mix-only", action="store_true", help="run the mix alone (parts 1-5 skipped)")
    parser.add_argument("--bookings-only", action="store_true",
                        help="run the complete bookings alone (part 4, with its CPU table)")
    parser.add_argument("--no-monolith", action="store_true",
                        help="skip the monolith peer (the same mix served by one process, after the stack)")
    parser.add_argument("--gateways", type=int, default=2,
                        help="gateway instances sharing the web port (default 2: one per core)")
    parser.add_argument("--scale", action="store_true",
                        help="a catalogue 40 times larger instead (scale.py): search, hotel page, hold, seeding and "
                             "memory at each of --scale-sizes")
    parser.add_argument("--scale-sizes", type=scale.sizes_of, default=[2500, 25000, 100000],
                        help="hotels in the catalogue, comma-separated (default 2500,25000,100000)")
    parser.add_argument("--scale-db", type=scale.databases_of, default=["sqlite", "postgres"],
                        help="sqlite, postgres or both (default both; PostgreSQL: the project's own server, "
                             "under var/bench/scale/postgres)")
    parser.add_argument("--booked-nights", type=int, default=1_000_000,
                        help="room-nights booked at every size (default 1,000,000)")
    parser.add_argument("--scale-clients", type=int, default=4,
                        help="closed-loop clients of each measurement of --scale (default 4)")
    parser.add_argument("--holds", type=int, default=50, help="holds in a row at each size of --scale (default 50)")
    args = parser.parse_args()

    broker = ensure_broker(AMQP_URI)
    try:
        results = scale.run(args, start_stack, bench_env) if args.scale else run_all(args)
    finally:
        if broker:
            broker.stop()
    if args.scale:
        scale.report(results)
        return
    report(results, args)


def rates(text):
    return [float(rate) for rate in text.split(",")]


def run_all(args):
    seconds = args.seconds
    port = free_port()
    stack = start_stack(port, args.gateways)
    results = {}
    try:
        base = f"http://127.0.0.1:{port}"
        if args.bookings_only:
            results["bookings"] = [bench_bookings(base, seconds, CpuMeter(stack.pid))]
            return results
        if not args.mix_only:
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
                script.write(ROTATING_CITIES % ", ".join(f'"{c.replace(" ", "%20")}"' for c in CITIES))
            wrk(f"{base}/api/v1/hotels?city=Paris", 10, 3)  # warm caches and connection pools
            results["search"] = [wrk(base, n, seconds, script.name) for n in CLIENTS]
            results["echo_rpc"] = [wrk(f"{base}/ready?service=search", n, seconds) for n in CLIENTS]
            results["bookings"] = [bench_bookings(base, seconds, CpuMeter(stack.pid))]
            results["renders"] = bench_renders(base, seconds)
        results["mix"] = mix.run(port, seconds, args.rates, args.saturation_clients, meter=CpuMeter(stack.pid))
        results["double_bookings"] = double_bookings()
    finally:
        stack.send_signal(signal.SIGINT)
        stack.wait(60)
    if not args.bookings_only and not args.no_monolith:
        results["monolith"] = run_monolith(args)
        results["double_bookings"] = double_bookings()  # after both runs
    if not (args.mix_only or args.bookings_only):
        results["raw_amqp"] = bench_amqp(seconds)
    return results


def report(results, args):
    print(f"\nBooking benchmark: {os.cpu_count()} cores, {args.seconds} s a run, loopback only, "
          f"{args.gateways} gateway instance(s)")
    if args.bookings_only:
        table("complete bookings: hold + pay (bank) -> confirmed  (req/s = bookings/s)", results["bookings"])
        cpu_table(results["bookings"][0])
        return
    if "search" in results:
        report_parts(results)
    mix_report.report(results["mix"], BENCH_VAR)
    if "monolith" in results:
        mix_report.report(results["monolith"], BENCH_VAR, "monolith", "served by one process (the monolith peer)")
        mix_report.compare(results["mix"], results["monolith"])
    print(f"\nnights held beyond their rooms after every booking above: {results['double_bookings']}")
    out = BENCH_VAR / "results.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nfigures saved to {out.relative_to(ROOT)}")


def report_parts(results):
    table("gateway -> search.find_hotels -> SQLite   GET /api/v1/hotels?city=…", results["search"])
    table("gateway -> search.ping (bare echo RPC)     GET /ready?service=search", results["echo_rpc"])
    table("raw AMQP request/reply (kombu, no nameko)  clients = requests in flight", results["raw_amqp"])
    table("complete bookings: hold + pay (bank) -> confirmed  (req/s = bookings/s)", results["bookings"])
    cpu_table(results["bookings"][0])
    table("confirmation PDFs rendered by reports (req/s = documents/s)", results["renders"])
    search50, echo50 = results["search"][-1], results["echo_rpc"][-1]
    amqp1, amqp50 = results["raw_amqp"]
    print("\nratios (throughput)")
    print(f"  search / echo RPC at 50 clients         {search50['rps'] / echo50['rps']:.2f}")
    print(f"  echo RPC via gateway / raw AMQP (50)    {echo50['rps'] / amqp50['rps']:.2f}")
    print(f"  search at 1 client / raw AMQP at 1      {results['search'][0]['rps'] / amqp1['rps']:.2f}")


if __name__ == "__main__":
    main()
