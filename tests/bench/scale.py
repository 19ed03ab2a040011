"""`make bench BENCH_ARGS=--scale`: a catalogue 40 times larger (issue 21, item 4).

For each database (SQLite, PostgreSQL) and each catalogue size (2,500, 25,000 and
100,000 hotels by default), on fresh databases: `booking migrate`, then
`booking seed --hotels N --booked-nights M` (timed), then the stack as `make bench`
starts it, loaded closed loop (http_load.py) for `--seconds` a measurement:

- the largest city's search, random dates;
- a random city's search, random dates;
- a random hotel's page, random dates, 2 guests;
- holds: 50 in a row by one logged-in guest, random hotels (not restricted) and dates;

then each process's resident memory, and the databases' size on disk. It prints a
table per database, a column per size and the growth from the smallest to the
largest, and writes var/bench/scale.json and var/bench/scale.png.

The gateway's search cache is off (SEARCH_CACHE_SECONDS=0): with random dates it
would answer a share of the requests that differs with each size's speed, and
blur what the catalogue's size costs.
"""
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from urllib.parse import quote

import requests
from cpu import CpuMeter
from http_load import Job, run_job
from mix import figures, percentile_ms, stay

from booking.devstack.ports import free_port
from booking.search.seed import restricted

ROOT = Path(__file__).resolve().parents[2]
SCALE_VAR = ROOT / "var" / "bench" / "scale"
SERVICES = ("search", "users", "auth", "reservations", "payments")
BOOKING = str(Path(sys.executable).parent / "booking")
GENERATOR_PROCESSES = 2
TIMEOUT_SECONDS = 60
PASSWORD = "benchmark guest 2026"
# what the table shows, in its order: (key in the figures, label)
LATENCIES = [("largest_city_search", "largest city's search"), ("city_search", "random city's search"),
             ("hotel_page", "hotel page"), ("hold", "hold (POST /api/v1/reservations)")]


@dataclass
class OneRoute:
    """The scenario http_load runs: one kind of request, again and again."""
    route: str
    cities: list
    hotels: int

    def pick(self, rng):
        return self.route

    async def send(self, route, client, rng):
        check_in, check_out = stay(rng)
        if route == "hotel_page":
            path = f"/api/v1/hotels/{rng.randint(1, self.hotels)}?check_in={check_in}&check_out={check_out}&guests=2"
        else:
            city = self.cities[0] if route == "largest_city_search" else rng.choice(self.cities)
            path = f"/api/v1/hotels?city={quote(city)}&check_in={check_in}&check_out={check_out}"
        status, _ = await client.request("GET", path)
        return "ok" if status == 200 else f"HTTP {status}"


def run(args, start_stack, bench_env):
    """Every database and size, in turn, with bench.py's `start_stack` and
    `bench_env`; the figures, also written to var/bench/."""
    results = {"sizes": args.scale_sizes, "booked_nights": args.booked_nights, "seconds": args.seconds,
               "clients": args.scale_clients, "gateways": args.gateways, "cpus": os.cpu_count(), "databases": {}}
    for database in args.scale_db:
        server = start_postgres() if database == "postgres" else None
        try:
            results["databases"][database] = {
                str(size): measure(database, size, server, args, start_stack, bench_env)
                for size in args.scale_sizes}
        finally:
            if server:
                server.stop()
        write(results)  # what is measured so far survives a later failure
    return results


def start_postgres():
    """The project's own PostgreSQL server, its data under var/bench/scale/postgres,
    durable as `make run DB=postgres` runs it."""
    from booking.devstack.postgres import LocalPostgres

    return LocalPostgres(port=free_port(), root=SCALE_VAR / "postgres").start()


def databases(database, size, server):
    """{service: URI} of fresh, empty databases for this size."""
    if database == "sqlite":
        folder = SCALE_VAR / f"sqlite-{size}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        return {service: f"sqlite:///{folder / service}.db" for service in SERVICES}
    uris = {}
    for service in SERVICES:
        name = f"scale_{size}_{service}"
        server.drop_database(name)
        uris[service] = f"{server.base_uri}/{name}"  # `booking migrate` creates it
    return uris


def measure(database, size, server, args, start_stack, bench_env):
    print(f"\n{database}, {size:,} hotels, {args.booked_nights:,} booked room-nights", flush=True)
    uris = databases(database, size, server)
    port = free_port()
    env = {**bench_env(port), "SEARCH_CACHE_SECONDS": "0", "MAIL_DIR": str(SCALE_VAR / "mail"),
           "BANK_LEDGER": str(SCALE_VAR / "bank.db"), **{f"{s.upper()}_DB_URI": uri for s, uri in uris.items()}}
    config = ["--config", str(ROOT / "config" / "postgres.yaml")] if database == "postgres" else []
    figures = {"migrate_s": timed([BOOKING, *config, "migrate"], env)}
    figures["seed_s"] = timed([BOOKING, *config, "seed", f"--hotels={size}", f"--booked-nights={args.booked_nights}"],
                              env)
    print(f"  seeded in {figures['seed_s']:.0f} s", flush=True)
    stack = start_stack(port, args.gateways, env=env, config=config[1] if config else None, seed=False)
    try:
        base = f"http://127.0.0.1:{port}"
        cities = sorted(requests.get(f"{base}/api/v1/cities", timeout=60).json()["items"],
                        key=lambda city: (-city["hotel_count"], city["name"]))
        figures["largest_city"] = {"name": cities[0]["name"], "hotels": cities[0]["hotel_count"]}
        hotels = sum(city["hotel_count"] for city in cities)
        names = [city["name"] for city in cities]
        with multiprocessing.get_context("spawn").Pool(GENERATOR_PROCESSES) as pool:
            for route, label in LATENCIES[:-1]:
                scenario = OneRoute(route, names, hotels)
                closed_loop(pool, scenario, port, 2, args.scale_clients)  # warm-up: copies, connections, imports
                figures[route] = closed_loop(pool, scenario, port, args.seconds, args.scale_clients)
                print(f"  {label}: {summary(figures[route])}", flush=True)
        figures["hold"] = holds(base, size, args.holds)
        print(f"  holds: {summary(figures['hold'])}", flush=True)
        figures["rss_mb"] = CpuMeter(stack.pid).resident_mb()
        figures["database_mb"] = database_mb(database, uris)
    finally:
        stack.send_signal(signal.SIGINT)
        stack.wait(120)
    return figures


def timed(argv, env):
    started = time.monotonic()
    subprocess.run(argv, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def closed_loop(pool, scenario, port, seconds, clients):
    """`clients` back-to-back clients for `seconds`, shared by the generator processes."""
    start_at = time.monotonic() + 0.5
    jobs = [Job(scenario, "127.0.0.1", port, start_at, seconds, TIMEOUT_SECONDS, seed=random.randrange(2**32),
                clients=clients // GENERATOR_PROCESSES + (index < clients % GENERATOR_PROCESSES))
            for index in range(GENERATOR_PROCESSES)]
    return figures([record for share in pool.map(run_job, jobs, chunksize=1) for record in share["records"]],
                   seconds)


def holds(base, size, count):
    """`count` holds in a row by one guest (a double room for two, 1 to 4 nights):
    p50 and p99. A full room type (409) is an answer, not an error."""
    email = f"scale-{uuid.uuid4().hex[:8]}@example.com"
    requests.post(f"{base}/api/v1/users", json={"email": email, "password": PASSWORD, "full_name": "Scale Guest"},
                  timeout=30).raise_for_status()
    login = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
    login.raise_for_status()
    rng, latencies, refused, errors = random.Random(), [], 0, Counter()
    hotels = [hotel_id for hotel_id in range(1, size + 1) if not restricted(hotel_id)]
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        for _ in range(count):
            check_in, check_out = stay(rng)
            started = time.perf_counter()
            held = session.post(f"{base}/api/v1/reservations", timeout=TIMEOUT_SECONDS, headers={
                "Idempotency-Key": uuid.uuid4().hex}, json={"hotel_id": rng.choice(hotels), "room_type": "double",
                                                           "guests": 2, "check_in": check_in, "check_out": check_out})
            latencies.append(time.perf_counter() - started)
            refused += held.status_code == 409
            if held.status_code not in (201, 409):
                errors[f"HTTP {held.status_code}"] += 1
    latencies.sort()
    return {"requests": count, "p50_ms": percentile_ms(latencies, 50), "p99_ms": percentile_ms(latencies, 99),
            "no_room": refused, "errors": sum(errors.values()), "error_kinds": dict(errors)}


def database_mb(database, uris):
    """{service: MB on disk} of search's and reservations' databases, and all of them."""
    sizes = {}
    for service, uri in uris.items():
        if database == "sqlite":
            path = Path(uri.removeprefix("sqlite:///"))
            sizes[service] = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20
        else:
            import psycopg2

            with psycopg2.connect(uri) as connection, connection.cursor() as cursor:
                cursor.execute("SELECT pg_database_size(current_database())")
                sizes[service] = cursor.fetchone()[0] / 2**20
            connection.close()
    return {"search": sizes["search"], "reservations": sizes["reservations"], "all": sum(sizes.values())}


def summary(figures):
    rate = f"{figures['rps']:.1f} req/s, " if "rps" in figures else ""
    errors = ", ".join(f"{kind} × {n}" for kind, n in figures["error_kinds"].items()) or "none"
    return f"{rate}p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, errors: {errors}"


# -- report ---------------------------------------------------------------------

def rows_of(by_size):
    """[(label, [value per size], format)] of one database's figures."""
    sizes = list(by_size)
    rows = [("largest city", [f"{by_size[s]['largest_city']['name']} ({by_size[s]['largest_city']['hotels']:,})"
                              for s in sizes], None)]
    for key, label in LATENCIES:
        rows += [(f"{label} p50 ms", [by_size[s][key]["p50_ms"] for s in sizes], "{:,.1f}"),
                 (f"{label} p99 ms", [by_size[s][key]["p99_ms"] for s in sizes], "{:,.1f}")]
        if key != "hold":
            rows.append((f"{label} req/s", [by_size[s][key]["rps"] for s in sizes], "{:,.1f}"))
    rows += [("errors (all requests)", [sum(by_size[s][key]["errors"] for key, _ in LATENCIES) for s in sizes],
              "{:,}"),
             ("booking seed s", [by_size[s]["seed_s"] for s in sizes], "{:,.0f}"),
             ("booking migrate s", [by_size[s]["migrate_s"] for s in sizes], "{:,.1f}")]
    for service in ("search", "reservations", "all"):
        rows.append((f"database MB: {service}", [by_size[s]["database_mb"][service] for s in sizes], "{:,.0f}"))
    for process in sorted({name for s in sizes for name in by_size[s]["rss_mb"]}):
        rows.append((f"RSS MB: {process}", [by_size[s]["rss_mb"].get(process, 0) for s in sizes], "{:,.0f}"))
    return rows


def report(results):
    for database, by_size in results["databases"].items():
        sizes = list(by_size)
        print(f"\n{'SQLite' if database == 'sqlite' else 'PostgreSQL'}: {results['booked_nights']:,} booked "
              f"room-nights, {results['clients']} clients, {results['seconds']} s a measurement "
              f"(growth: at {int(sizes[-1]):,} hotels / at {int(sizes[0]):,})")
        print(f"  {'':<42}" + "".join(f"{int(size):>16,}" for size in sizes) + f"{'growth':>10}")
        for label, values, form in rows_of(by_size):
            cells = "".join(f"{(form.format(v) if form and v is not None else str(v)):>16}" for v in values)
            growth = f"{values[-1] / values[0]:.1f}x" if form and values[0] else ""
            print(f"  {label:<42}{cells}{growth:>10}")
    print(f"\nfigures saved to {(SCALE_VAR.parent / 'scale.json').relative_to(ROOT)} and scale.png")


def write(results):
    (SCALE_VAR.parent / "scale.json").write_text(json.dumps(results, indent=2))
    try:
        plot(results, SCALE_VAR.parent / "scale.png")
    except ImportError:
        print("matplotlib is missing: no scale.png (make bench installs it)")


# the services' processes, for the plot of memory (the table has every process)
PLOTTED_PROCESSES = ("search", "gateway", "reservations", "users", "auth", "payments", "reports")


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 3, figsize=(17, 9))
    (p99, p50, rate), (seeding, disk, memory) = axes
    styles = {"sqlite": "-", "postgres": "--"}
    for database, by_size in results["databases"].items():
        values = list(by_size.values())
        line = partial(_line, [int(size) for size in by_size], styles[database],
                       "SQLite" if database == "sqlite" else "PostgreSQL")
        for index, (key, label) in enumerate(LATENCIES):
            line(p99, [v[key]["p99_ms"] for v in values], label, f"C{index}")
            line(p50, [v[key]["p50_ms"] for v in values], label, f"C{index}")
            if key != "hold":
                line(rate, [v[key]["rps"] for v in values], label, f"C{index}")
        line(seeding, [v["seed_s"] for v in values], "booking seed", "C0")
        for index, service in enumerate(("search", "reservations", "all")):
            line(disk, [v["database_mb"][service] for v in values], service, f"C{index}")
        for index, process in enumerate(PLOTTED_PROCESSES):
            line(memory, [v["rss_mb"].get(process, 0) for v in values], process, f"C{index}")
    titles = {p99: "p99 latency (ms)", p50: "p50 latency (ms)", rate: "closed-loop throughput (req/s)",
              seeding: "booking seed (s)", disk: "databases on disk (MB)", memory: "resident memory (MB)"}
    for axis, title in titles.items():
        axis.set_xscale("log")
        if "latency" in title:
            axis.set_yscale("log")
        axis.set_title(title)
        axis.set_xlabel("hotels in the catalogue")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=6)
    figure.suptitle(f"Booking with a larger catalogue: {results['booked_nights']:,} booked room-nights, "
                    f"{results['clients']} clients, {date.today().isoformat()}")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _line(sizes, style, database, axis, ys, label, color):
    axis.plot(sizes, ys, style, color=color, marker="o", label=f"{label}, {database}")


def sizes_of(text):
    return [int(size.replace("_", "")) for size in text.split(",")]


def databases_of(text):
    if text not in ("sqlite", "postgres", "both"):
        raise ValueError("sqlite, postgres or both")
    return ["sqlite", "postgres"] if text == "both" else [text]


if __name__ == "__main__":  # the report of the saved figures again, and the plot: python tests/bench/scale.py
    sys.path.insert(0, str(ROOT))
    saved = json.loads((SCALE_VAR.parent / "scale.json").read_text())
    write(saved)
    report(saved)
