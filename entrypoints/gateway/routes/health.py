from booking.kit.errors import NotFound, ServiceUnavailable
from entrypoints.gateway.http import api, json_response, query_args

# the services /ready asks; each answers `ping`
SERVICES = ("search", "users", "auth", "reservations", "payments", "reports")


class HealthRoutes:
    @api("GET", "/health")
    def health(self, request):
        return {"status": "ok"}

    @api("GET", "/ready")
    def ready(self, request):
        """Every service answering (or one: `?service=search`); 503 if any is not."""
        asked = query_args(request, ["service"]).get("service")
        if asked is not None and asked not in SERVICES:
            raise NotFound("No such service", details={"service": asked})
        names = [asked] if asked else SERVICES
        pending = {}
        for name in names:  # all at once: the slowest sets the pace, not the sum
            try:
                pending[name] = getattr(self, name).ping.call_async()
            except ServiceUnavailable:
                pending[name] = None
        services = {name: "up" if answers(reply) else "unavailable" for name, reply in pending.items()}
        ready = all(state == "up" for state in services.values())
        body = {"status": "ready" if ready else "unavailable", "services": services}
        return json_response(body, status=200 if ready else 503)


def answers(reply):
    try:
        return reply is not None and reply.result() == "pong"
    except ServiceUnavailable:
        return False
