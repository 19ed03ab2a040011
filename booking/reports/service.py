from booking.kit.errors import BookingError
from booking.kit.health import Pingable
from booking.kit.identity import CallerIdentity
from booking.kit.logs import RequestLog
from booking.kit.metrics import Metrics
from booking.kit.rpc import rpc
from booking.reports import rendering


class ReportsService(Pingable):
    """PDF documents from a template and data: confirmations, receipts, invoices."""

    name = "reports"

    # every call logged with its request's id, counted and timed
    request_log = RequestLog()
    metrics = Metrics()
    caller = CallerIdentity()

    @rpc(expected_exceptions=BookingError)
    def render(self, template, data):
        """Render `template` (see `templates()`) with `data`.

        Needs a token (services render for their guests). Returns {filename,
        content_type, content_base64, pages, sha256, size}.
        Raises UnknownTemplate, ValidationFailed (naming each field's problem).
        """
        self.caller.require("reports:render")
        return rendering.render(template, data)

    @rpc
    def templates(self):
        """Every template: {name, title, fields: [{name, type, required}]}. Public."""
        return rendering.describe()
