"""The dead-letter yard: events whose handler kept failing, parked by
`booking.kit.events` in `<service>.dead-letters`, to look at and send back.

    booking dead-letters                 what waits: service, event, handler, error, age, tries
    booking dead-letters replay ID       send one back to its handler's queue
    booking dead-letters replay --all    ... or every one

Looking takes the messages without acking them and gives them back (closing the
channel returns whatever was not acked), so nothing is lost by looking. A replayed
event goes to its own handler's queue only (not to every service that handles that
event), with its tries counted from zero again.
"""
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from amqp.exceptions import NotFound
from kombu import Connection, Producer

from booking.kit.events import DEAD_LETTER_HEADER, TRIES_HEADER, copied_headers, dead_letter_queue


@dataclass
class DeadLetter:
    id: str
    service: str
    handler: str
    event_type: str
    source: str
    queue: str
    error: str
    tries: int
    parked_at: str
    message: object  # the kombu message, unacked

    @property
    def age(self):
        parked = datetime.fromisoformat(self.parked_at)
        seconds = int((datetime.now(UTC) - parked).total_seconds())
        if seconds >= 3600:
            return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        return f"{seconds // 60}m{seconds % 60:02d}s"


def connect(config):
    # a cluster's nodes, `;`-separated, are tried in turn; replays are confirmed
    return Connection(config["AMQP_URI"], transport_options={"confirm_publish": True})


def waiting(connection, service_names):
    """{service: how many dead letters wait}, without touching them."""
    counts = {}
    for name in service_names:
        with connection.channel() as channel:
            try:
                counts[name] = dead_letter_queue(name)(channel).queue_declare(passive=True).message_count
            except NotFound:
                counts[name] = 0  # no handler of that service ever gave up
    return counts


def read(channel, service_names):
    """Every dead letter of these services (whose queues exist: see `waiting`),
    taken unacked on `channel`: closing it gives back those not replayed."""
    found = []
    for name in service_names:
        queue = dead_letter_queue(name)(channel)
        while (message := queue.get(no_ack=False)) is not None:
            parked = json.loads(message.headers[DEAD_LETTER_HEADER])
            found.append(DeadLetter(message=message, **{field: parked[field] for field in (
                "id", "service", "handler", "event_type", "source", "queue", "error", "tries", "parked_at")}))
    return found


def replay(channel, letters):
    """Send each letter back to its handler's queue, then let it go from the yard."""
    producer = Producer(channel)
    for letter in letters:
        headers = copied_headers(letter.message.headers)
        headers.pop(DEAD_LETTER_HEADER, None)
        headers.pop(TRIES_HEADER, None)
        producer.publish(letter.message.body, exchange="", routing_key=letter.queue, headers=headers,
                         content_type=letter.message.content_type,
                         content_encoding=letter.message.content_encoding, delivery_mode=2)
        letter.message.ack()
