"""The events a service's worker recorded in its outbox, read back from its
database: a unit test gives the worker a real `OutboxWriter` (no relay, no broker),
so what it checks is what the relay would publish, committed with the change."""
from booking.kit.outbox import OutboxWriter, events_of


def outbox_of(service_class):
    return OutboxWriter(service_class.name, service_class.outbox.event_types)


def dispatched(service, event_type=None):
    """The payloads `service` recorded (as `event_type`, if given), oldest first,
    without the `event_id` and `occurred_at` every event carries."""
    with service.db.get_session() as session:
        return [{name: value for name, value in event.items() if name not in ("event_id", "occurred_at")}
                for event in events_of(session, event_type)]
