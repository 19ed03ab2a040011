"""What survives: two instances of every service, services killed with SIGKILL in
the middle of bookings, the broker stopped under load.

The stack runs as `make run` runs it (`booking run`, every service twice), on a
RabbitMQ node of its own that these tests may stop, with holds that expire in
HOLD_SECONDS. Guests book as tests/e2e/bookings.py says. Each test records its figures (see the `figures` fixture).
"""
import os
import random
import shutil
import signal
import time
from collections import Counter

import eventlet
import pytest
import requests
from kombu import Connection, Exchange, Queue
from requests.utils import quote

from booking.devstack.broker import LocalBroker
from booking.devstack.ports import is_listening
from booking.kit.config import PROJECT_ROOT
from tests import eventually
from tests.e2e.bookings import (
    SENT_AGAIN,
    Bookings,
    Guest,
    SteadySearches,
    bookable_rooms,
    check_invariants,
    settled,
    wait_until_ready,
)
from tests.e2e.stack import Stack, alive, stack_environment

pytestmark = pytest.mark.slow

SERVICES = ("auth", "users", "search", "reservations", "payments", "reports", "gateway")
HOLD_SECONDS = 40

# the first port tried for the fault tests' node (its management port is 10000 above, its
# Erlang distribution port 20000 above)
FAULTS_FIRST_PORT = 5712


@pytest.fixture(scope="module")
def faults_broker():
    # a node of this session's own (make test may run these tests beside another session),
    # new: no queue or message of an earlier run
    root = PROJECT_ROOT / "var" / "test" / f"rabbitmq-faults-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    port = next(port for port in range(FAULTS_FIRST_PORT, FAULTS_FIRST_PORT + 100)
                if not any(is_listening("localhost", port + offset) for offset in (0, 10000, 20000)))
    node = LocalBroker(root, port=port, management_port=port + 10000, node=f"booking-faults-{os.getpid()}@localhost")
    node.start()
    yield node
    node.stop(graceful=False)  # its data is removed below
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(faults_broker, tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    env = stack_environment(f"amqp://guest:guest@localhost:{faults_broker.port}/", root,
                            HOLD_SECONDS=HOLD_SECONDS, BANK_TIMEOUT=5, LOG_LEVEL="WARNING")
    stack = Stack(env, *[f"--scale={service}=2" for service in SERVICES], logs=root / "log")
    try:
        stack.wait_for(r"Booking is ready", timeout=300)
        yield stack
    finally:
        assert stack.stop(), stack.output[-20000:]


# -- the tests ---------------------------------------------------------------------------

def test_two_instances_of_every_service_share_the_work_and_apply_nothing_twice(stack, faults_broker, figures):
    management = requests.Session()
    management.auth = ("guest", "guest")
    api = f"http://localhost:{faults_broker.management_port}/api"

    def two_consumers_each():  # the management API's statistics are gathered every 5 s
        consumers = Counter(c["queue"]["name"] for c in management.get(f"{api}/consumers/%2F", timeout=10).json())
        rpc_services = [service for service in SERVICES if service != "gateway"]  # the gateway serves HTTP
        assert {service: consumers[f"rpc-{service}"] for service in rpc_services} == dict.fromkeys(rpc_services, 2)
    eventually(two_consumers_each, timeout=30)

    spy = Connection(stack.env["AMQP_URI"])
    expired_events = Queue(exchange=Exchange("reservations.events", type="topic", durable=True),
                           routing_key="reservation_expired", exclusive=True)(spy)
    expired_events.declare()
    guests = [Guest(stack.url, f"sharing-{n}") for n in range(4)]
    bookings = Bookings(guests, bookable_rooms(stack.url), seed=3)
    outcomes = bookings.make(40)
    statuses = check_invariants(stack, outcomes, figures)
    assert figures["e-mails delivered twice so far (same Message-ID)"] == 0  # nobody died: nothing sent again

    # the work was shared: every instance of the busy services answered some of it
    eventlet.sleep(6)  # the management API's statistics are gathered every 5 s
    delivered = Counter()
    for channel in management.get(f"{api}/channels", timeout=10).json():
        details = management.get(f"{api}/channels/{quote(channel['name'], safe='')}", timeout=10).json()
        for consumer in details.get("consumer_details", []):
            queue = consumer["queue"]["name"]
            delivered[(queue, channel["connection_details"]["peer_port"])] += details.get(
                "message_stats", {}).get("deliver_get", 0)
    for service in ("search", "reservations", "payments", "users"):
        shares = sorted(n for (queue, _), n in delivered.items() if queue == f"rpc-{service}")
        assert len(shares) == 2 and shares[0] > 0, (service, shares)
        figures[f"{service} calls per instance"] = shares

    # the timer ran in both instances, yet each hold expired once; each handler acted once
    expired = Counter()
    with spy:
        while (message := expired_events.get(no_ack=True)) is not None:
            expired[message.payload["reservation_id"]] += 1
    assert sorted(expired) == sorted(rid for rid, status in statuses.items() if status == "expired")
    assert set(expired.values()) <= {1}
    figures["holds expired once each"] = len(expired)


def test_bookings_survive_sigkill_of_payments_reservations_and_the_gateway(stack, figures):
    guests = [Guest(stack.url, f"killed-{n}") for n in range(10)]
    bookings = Bookings(guests, bookable_rooms(stack.url, city="Rome"), seed=11)
    rng = random.Random(5)
    # each kind three times, at random points of the run (by bookings done)
    victims = rng.sample([kind for kind in ("payments", "reservations", "gateway") for _ in range(3)], 9)
    moments = sorted(rng.sample(range(5, 85), len(victims)))
    kills = []

    def killer():
        for kind, moment in zip(victims, moments, strict=True):
            while bookings.done < moment:
                eventlet.sleep(0.01)
            while True:  # an instance that is running (the other may still be restarting)
                victim = f"{kind}-{rng.choice((1, 2))}"
                pid = stack.pids()[victim]
                if alive(pid):
                    break
                eventlet.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
            kills.append(victim)

    SENT_AGAIN.clear()
    started = time.monotonic()
    chaos = eventlet.spawn(killer)
    try:
        outcomes = bookings.make(100)
    finally:
        chaos.kill()
    elapsed = time.monotonic() - started
    eventually(lambda: [victim for victim in set(kills) if not alive(stack.pids()[victim])] == [], timeout=90)
    wait_until_ready(stack)
    check_invariants(stack, outcomes, figures)
    assert len(kills) == len(victims)
    figures["requests sent again"] = len(SENT_AGAIN)
    figures["SIGKILLs"] = dict(Counter(kill.rsplit("-", 1)[0] for kill in kills))
    figures["seconds for 100 bookings under kills"] = round(elapsed, 1)


def test_the_broker_stopped_for_5_seconds_under_load_loses_nothing(stack, faults_broker, figures):
    guests = [Guest(stack.url, f"outage-{n}") for n in range(4)]
    bookings = Bookings(guests, bookable_rooms(stack.url, city="Madrid"), seed=17)
    before = bookings.make(20, concurrency=4)
    confirmed_before = settled(stack, [o for o in before if o.get("pay") == 200])
    pids = stack.pids()
    gateway_timeout = float(stack.env.get("RPC_TIMEOUT", 5))
    SENT_AGAIN.clear()
    searching = SteadySearches(stack.url, "Madrid", searchers=4, timeout=2 * gateway_timeout + 5)
    booking = eventlet.spawn(bookings.make, 40, concurrency=4, pause=0.5)
    eventlet.sleep(3)
    faults_broker.ctl("stop_app")
    outage_start = time.monotonic()
    eventlet.sleep(5)
    restarting = time.monotonic()
    faults_broker.ctl("start_app")
    outage_end = time.monotonic()
    during = booking.wait()
    all_answered_from = outage_end + gateway_timeout + 2
    eventlet.sleep(5)
    searches = searching.stop(not_before=all_answered_from + 5)

    assert stack.pids() == pids, "a service was restarted"
    in_outage = [(started, latency, status) for started, latency, status in searches
                 if outage_start <= started < restarting]
    # each got 503, or an answer once the broker was back, and within the gateway's timeout
    assert in_outage and 503 in {status for _, _, status in in_outage}, in_outage
    assert [(started, latency, status) for started, latency, status in in_outage
            if not (status == 503 or (status == 200 and started + latency > restarting))] == []
    assert max(latency for _, latency, _ in in_outage) < gateway_timeout + 2, in_outage
    after = [status for started, _, status in searches if started > all_answered_from]
    assert len(after) >= 10 and set(after) == {200}, searches
    still = settled(stack, [o for o in before if o.get("pay") == 200])
    assert still == confirmed_before and set(still.values()) == {"confirmed"}
    check_invariants(stack, during, figures)
    figures["searches during the outage"] = dict(Counter(status for _, _, status in in_outage))
    figures["slowest answer during the outage (s)"] = round(max(latency for _, latency, _ in in_outage), 2)
    figures["seconds from start_app to the first search answered"] = round(min(
        started + latency for started, latency, status in searches
        if started + latency > outage_end and status == 200) - outage_end, 1)
    figures["requests sent again"] = len(SENT_AGAIN)
