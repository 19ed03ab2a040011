"""The health entrypoint every service shares."""
from booking.kit.rpc import rpc


class Pingable:
    """Mixed into each service: `ping`, which the gateway's /ready calls."""

    @rpc
    def ping(self):
        """"pong": the service is up and consuming."""
        return "pong"
