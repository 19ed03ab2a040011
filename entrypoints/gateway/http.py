"""The gateway's HTTP entrypoints: `api` answers JSON, `page` answers HTML.

Both map errors once, here: a `BookingError` (typed, raised by any service and
carried back over RPC) becomes its `http_status` and its stable body
`{"error", "message", "details"}`; anything else is logged and answered as a
generic 500, never with a stack trace or an exception's text.
"""
import json
import logging

from nameko.exceptions import BadRequest
from nameko.web.handlers import HttpRequestHandler
from werkzeug.wrappers import Response

from booking.kit.errors import BookingError, ValidationFailed
from entrypoints.gateway.templating import render_page

log = logging.getLogger(__name__)

INTERNAL_ERROR = {
    "error": "INTERNAL_ERROR",
    "message": "Something went wrong on our side; please try again",
    "details": {},
}


def error_body(exc):
    """(status, body) for an exception, the one table of the HTTP edge."""
    if isinstance(exc, BookingError):
        return exc.http_status, exc.to_dict()
    if isinstance(exc, BadRequest):
        return 400, ValidationFailed("The request does not match this route").to_dict()
    log.error("unexpected error answering a request", exc_info=exc)
    return 500, INTERNAL_ERROR


def json_response(payload, status=200, headers=None):
    return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers)


class ApiHandler(HttpRequestHandler):
    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        return json_response(result)

    def response_from_exception(self, exc):
        status, body = error_body(exc)
        return json_response(body, status=status)


class PageHandler(HttpRequestHandler):
    def response_from_exception(self, exc):
        status, body = error_body(exc)
        return render_page("error.html", status=status, error=body, status_code=status)


api = ApiHandler.decorator
page = PageHandler.decorator


def query_args(request, allowed):
    """The query string as a dict; an unknown parameter is a 400, not silently ignored."""
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise ValidationFailed(
            "Unknown query parameters", details={name: ["Unknown field."] for name in unknown}
        )
    return {name: value for name, value in request.args.items() if value != ""}
