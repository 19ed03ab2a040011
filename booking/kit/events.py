"""Events a service emits, declared where its dependencies are.

    dispatch = EventDispatcher("reservation_held", "reservation_confirmed")
    ...
    self.dispatch("reservation_held", {...})

nameko's dispatcher publishes any event type it is given; this one publishes only
those the service declares, so a misspelt event fails at once instead of reaching
no handler. The declaration is the service's contract: `booking diagrams` draws it,
and docs/architecture.md lists it.
"""
from nameko.events import EventDispatcher as NamekoEventDispatcher


class UndeclaredEvent(LookupError):
    pass


class EventDispatcher(NamekoEventDispatcher):
    def __init__(self, *event_types, **options):
        super().__init__(**options)
        self.event_types = event_types

    def get_dependency(self, worker_ctx):
        dispatch = super().get_dependency(worker_ctx)

        def dispatch_declared(event_type, event_data, **kwargs):
            if event_type not in self.event_types:
                raise UndeclaredEvent(f"{self.container.service_name} does not declare the event {event_type!r}")
            return dispatch(event_type, event_data, **kwargs)

        return dispatch_declared
