"""An HTTP load generator for loopback: open loop at a fixed arrival rate, or closed
loop with a number of clients, in several processes so that it is not the bottleneck.

Each process runs one asyncio loop over raw HTTP/1.1 keep-alive connections (no
HTTP library: the generator should cost far less than the server it loads). What
is sent comes from a *scenario*, a picklable object with `pick(rng)`, which names
the route of the next request, and `send(route, client, rng)`, a coroutine that
makes its HTTP calls and returns an outcome: "ok", "no room" (an expected refusal)
or the name of an error. The generator adds "timeout" and "connection error".

In the open loop a request's latency runs from its *scheduled* send time, so a
server that falls behind is charged for the queue it causes (no coordinated
omission), and a request late past its deadline is a timeout.
"""
import asyncio
import random
import resource
import time
from collections import namedtuple
from dataclasses import dataclass

# finished: seconds after the level started; lag: how late the generator sent it
Record = namedtuple("Record", "route outcome latency finished lag")
CONNECTIONS_PER_PROCESS = 256


class Client:
    """Keep-alive HTTP/1.1 connections to one server, at most `limit` open at once
    (a request beyond that waits for a connection, and its latency shows it)."""

    def __init__(self, host, port, limit=CONNECTIONS_PER_PROCESS):
        self.host, self.port = host, port
        self.idle = []
        self.slots = asyncio.Semaphore(limit)

    async def request(self, method, path, body=None, headers=()):
        """(status, body) of one request; `body` is JSON bytes."""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", *headers]
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        data = ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")
        async with self.slots:
            reader, writer = self.idle.pop() if self.idle else await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(data)
                status, payload, keep_alive = await read_response(reader)
            except BaseException:  # a half-read answer (or a cancelled wait) spoils the connection
                writer.close()
                raise
            if keep_alive:
                self.idle.append((reader, writer))
            else:
                writer.close()
            return status, payload

    def close(self):
        for _, writer in self.idle:
            writer.close()


async def read_response(reader):
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {name.strip().lower(): value.strip().lower()
               for name, _, value in (line.partition(":") for line in head[1:] if line)}
    if headers.get("transfer-encoding") == "chunked":
        body = await read_chunked(reader)
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:  # the body ends when the server closes
        return status, await reader.read(), False
    return status, body, headers.get("connection") != "close"


async def read_chunked(reader):
    chunks = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
    await reader.readuntil(b"\r\n")  # the empty line after the last chunk
    return b"".join(chunks)


@dataclass
class Job:
    """One process's share of a load level: `rate` requests a second (open loop) or
    `clients` back-to-back clients (closed loop), from `start_at` (time.monotonic(),
    which all processes share) for `seconds`."""
    scenario: object
    host: str
    port: int
    start_at: float
    seconds: float
    timeout: float
    seed: int
    rate: float = 0
    clients: int = 0


def run_job(job):
    """Run one process's share; its records, its CPU seconds and its wall seconds."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    records = asyncio.run(drive(job))
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {"records": records, "wall_seconds": time.monotonic() - job.start_at,
            "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}


async def drive(job):
    client, rng, records = Client(job.host, job.port), random.Random(job.seed), []
    await asyncio.sleep(max(0.0, job.start_at - time.monotonic()))
    if job.rate:
        await open_loop(job, client, rng, records)
    else:
        await closed_loop(job, client, rng, records)
    client.close()
    return records


async def open_loop(job, client, rng, records):
    """Poisson arrivals at `job.rate`, sent whatever is still outstanding."""
    end, scheduled, outstanding = job.start_at + job.seconds, job.start_at, set()
    while (scheduled := scheduled + rng.expovariate(job.rate)) < end:
        await asyncio.sleep(max(0.0, scheduled - time.monotonic()))
        task = asyncio.create_task(timed_request(job, client, rng, scheduled, records))
        outstanding.add(task)
        task.add_done_callback(outstanding.discard)
    await asyncio.gather(*outstanding)


async def closed_loop(job, client, rng, records):
    """`job.clients` clients, each sending its next request when the last is answered."""
    end = job.start_at + job.seconds

    async def one_client():
        while (now := time.monotonic()) < end:
            await timed_request(job, client, rng, now, records)

    await asyncio.gather(*(one_client() for _ in range(job.clients)))


async def timed_request(job, client, rng, scheduled, records):
    lag = time.monotonic() - scheduled
    route = job.scenario.pick(rng)
    try:
        async with asyncio.timeout_at(scheduled + job.timeout):
            outcome = await job.scenario.send(route, client, rng)
    except TimeoutError:
        outcome = "timeout"
    except (OSError, asyncio.IncompleteReadError):
        outcome = "connection error"
    finished = time.monotonic()
    records.append(Record(route, outcome, finished - scheduled, finished - job.start_at, lag))
