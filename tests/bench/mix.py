"""The hotel-reservation mix of DeathStarBench, through the gateway.

60% search, 39% hotel page, 0.5% login, 0.5% book and pay (quote, hold, then pay with
the sandbox bank: one request of the mix, complete when the payment succeeds; one
booking in five is of two rooms), first
open loop at a ladder of fixed arrival rates, then closed loop at saturation. The
load comes from http_load, in GENERATOR_PROCESSES processes.
"""
import json
import multiprocessing
import os
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import quote

import requests
from http_load import Job, run_job

ROUTES = {"search": 60, "hotel": 39, "login": 0.5, "book": 0.5}
# a full hotel refusing a booking, or a calendar not selling those dates, is an answer, not an error
SUCCESS = ("ok", "no room", "not for sale")
GENERATOR_PROCESSES = 2
GUESTS = 8
PASSWORD = "benchmark guest 2026"
TIMEOUT_SECONDS = 10  # as wrk's --timeout in bench.py
# requests the generator gave up on still run to the end in the stack: before the next
# level, wait until a hotel page answers this fast again (or the limit passes)
IDLE_ANSWER_MS = 100
SETTLE_LIMIT_SECONDS = 60


@dataclass
class HotelMix:
    """The scenario http_load runs: what each route of the mix sends."""
    cities: list
    hotels: int
    guests: list  # (email, access token)

    def pick(self, rng):
        return rng.choices(list(ROUTES), list(ROUTES.values()))[0]

    async def send(self, route, client, rng):
        return await getattr(self, route)(client, rng)

    async def search(self, client, rng):
        check_in, check_out = stay(rng)
        status, _ = await client.request(
            "GET", f"/api/v1/hotels?city={quote(rng.choice(self.cities))}&check_in={check_in}&check_out={check_out}")
        return answer(status, 200)

    async def hotel(self, client, rng):
        check_in, check_out = stay(rng)
        status, _ = await client.request(
            "GET", f"/api/v1/hotels/{rng.randint(1, self.hotels)}?check_in={check_in}&check_out={check_out}&guests=2")
        return answer(status, 200)

    async def login(self, client, rng):
        email, _ = rng.choice(self.guests)
        status, _ = await client.request("POST", "/api/v1/auth/login",
                                         json.dumps({"email": email, "password": PASSWORD}).encode())
        return answer(status, 200)

    async def book(self, client, rng):
        _, token = rng.choice(self.guests)
        check_in, check_out = stay(rng)
        rooms = [{"room_type": "double", "rate_plan": "flexible", "adults": 2}] * (2 if rng.random() < 0.2 else 1)
        stay_of = {"hotel_id": rng.randint(1, self.hotels), "check_in": check_in, "check_out": check_out,
                   "rooms": rooms}
        status, body = await client.request("POST", "/api/v1/quotes", json.dumps(stay_of).encode())
        if status == 422:
            return "not for sale"
        if status != 200:
            return f"quote HTTP {status}"
        status, body = await client.request("POST", "/api/v1/reservations", json.dumps(stay_of).encode(),
                                            booking_headers(token))
        if status == 409 and json.loads(body).get("error") == "NO_ROOM_LEFT":
            return "no room"
        if status != 201:
            return f"hold HTTP {status}"
        card = {"number": "4242424242424242", "exp_month": 12, "exp_year": date.today().year + 2,
                "cvc": "123", "holder": "Mix Guest"}
        status, _ = await client.request("POST", f"/api/v1/reservations/{json.loads(body)['id']}/payment",
                                         json.dumps({"card": card}).encode(), booking_headers(token))
        return answer(status, 200, "payment ")


def stay(rng):
    """A stay of 1 to 4 nights within the next 300 days, as ISO dates."""
    check_in = date.today() + timedelta(days=rng.randint(1, 300))
    return check_in.isoformat(), (check_in + timedelta(days=rng.randint(1, 4))).isoformat()


def booking_headers(token):
    return [f"Authorization: Bearer {token}", f"Idempotency-Key: {uuid.uuid4().hex}"]


def answer(status, expected, step=""):
    return "ok" if status == expected else f"{step}HTTP {status}"


def prepare(base):
    """The scenario for the stack at `base`: its catalogue, and guests registered and
    logged in before anything is measured."""
    cities = requests.get(f"{base}/api/v1/cities", timeout=30).json()["items"]
    guests = []
    for number in range(GUESTS):
        email = f"mix-{uuid.uuid4().hex[:8]}@example.com"
        requests.post(f"{base}/api/v1/users", timeout=30, json={
            "email": email, "password": PASSWORD, "full_name": f"Mix Guest {number + 1}"}).raise_for_status()
        login = requests.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
        login.raise_for_status()
        guests.append((email, login.json()["access_token"]))
    return HotelMix([city["name"] for city in cities], sum(city["hotel_count"] for city in cities), guests)


def run(port, seconds, rates, saturation_clients, meter=None):
    """The ladder of open-loop rates, then saturation; the figures of each level. With
    `meter` (a CpuMeter of what serves the mix), the CPU each process spent per request
    at saturation: what a request costs, process by process."""
    scenario = prepare(f"http://127.0.0.1:{port}")
    # spawn: the workers must not inherit this process's threads (the stack's log reader)
    with multiprocessing.get_context("spawn").Pool(GENERATOR_PROCESSES) as pool:
        load = Load(pool, scenario, port, seconds)
        load.level(rate=rates[0], seconds=2)  # warm-up, not measured: connections, caches, the workers' imports
        levels = [load.level(rate=rate) for rate in rates]
        cpu_before = meter.read() if meter else None
        levels.append(load.level(clients=saturation_clients))
        if meter:
            answered = levels[-1]["all"]["requests"]
            levels[-1]["cpu_ms_per_request"] = {name: round(seconds_spent * 1000 / answered, 2) for name, seconds_spent
                                                in sorted(meter.since(cpu_before).items(), key=lambda kv: -kv[1])
                                                if seconds_spent * 1000 / answered >= 0.01}
    return {"mix": ROUTES, "seconds": seconds, "timeout_seconds": TIMEOUT_SECONDS, "levels": levels}


@dataclass
class Load:
    pool: object
    scenario: HotelMix
    port: int
    seconds: float

    def level(self, rate=0, clients=0, seconds=None):
        """One load level, shared between the generator processes."""
        seconds = seconds or self.seconds
        start_at = time.monotonic() + 0.5
        # fresh seeds: var/bench keeps its bookings, so replaying the last run's stays would find them taken
        jobs = [Job(self.scenario, "127.0.0.1", self.port, start_at, seconds, TIMEOUT_SECONDS,
                    seed=random.randrange(2**32), rate=rate / GENERATOR_PROCESSES,
                    clients=clients // GENERATOR_PROCESSES + (index < clients % GENERATOR_PROCESSES))
                for index in range(GENERATOR_PROCESSES)]
        shares = self.pool.map(run_job, jobs, chunksize=1)
        settled_after = self.settle()
        records = [record for share in shares for record in share["records"]]
        return {
            "loop": "open" if rate else "closed",
            "offered_rps": rate or None,
            "clients": clients or None,
            "routes": {route: figures([r for r in records if r.route == route], seconds) for route in ROUTES},
            "all": figures(records, seconds),
            "bookings_per_s": sum(r.route == "book" and r.outcome == "ok" and r.finished <= seconds
                                  for r in records) / seconds,
            "generator": generator_figures(shares, records, open_loop=bool(rate)),
            "stack_idle_after_s": settled_after,
        }

    def settle(self):
        """Seconds until the stack had worked off the queue the level left; None if it
        had not within SETTLE_LIMIT_SECONDS."""
        started = time.monotonic()
        while (waited := time.monotonic() - started) < SETTLE_LIMIT_SECONDS:
            probe = time.monotonic()
            requests.get(f"http://127.0.0.1:{self.port}/api/v1/hotels/1", timeout=SETTLE_LIMIT_SECONDS)
            if time.monotonic() - probe < IDLE_ANSWER_MS / 1000:
                return waited
            time.sleep(0.2)
        return None


def figures(records, seconds):
    """req/s counts the answers (2xx, or no room) received within the level's time;
    the percentiles cover every HTTP answer, errors included; errors are any other
    answer, a timeout or a broken connection."""
    answered = sorted(r.latency for r in records if r.outcome not in ("timeout", "connection error"))
    errors = Counter(r.outcome for r in records if r.outcome not in SUCCESS)
    return {
        "requests": len(records),
        "rps": sum(r.outcome in SUCCESS and r.finished <= seconds for r in records) / seconds,
        **{f"p{q}_ms": percentile_ms(answered, q) for q in (50, 95, 99)},
        "no_room": sum(r.outcome == "no room" for r in records),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
    }


def generator_figures(shares, records, open_loop):
    """The generator's own cost: CPU per process, and (open loop) how late it sent."""
    return {
        "processes": len(shares),
        "cpu_percent_of_core": max(100 * s["cpu_seconds"] / s["wall_seconds"] for s in shares),
        "cpu_percent_of_machine": 100 * sum(s["cpu_seconds"] for s in shares)
                                  / max(s["wall_seconds"] for s in shares) / os.cpu_count(),
        "send_lag_p99_ms": percentile_ms(sorted(r.lag for r in records), 99) if open_loop else None,
    }


def percentile_ms(ordered, q):
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] * 1000 if ordered else None
