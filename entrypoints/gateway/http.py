"""The gateway's HTTP entrypoints: `api` answers JSON, `oauth` answers as RFC 6749
says, `page` answers HTML.

Errors are mapped once, here: a `BookingError` (typed, raised by any service and
carried back over RPC) becomes its `http_status` and its stable body
`{"error", "message", "details"}`; anything else is logged and answered as a
generic 500, never with a stack trace or an exception's text.

Every response names its request in `X-Request-Id`: the call id of the worker
that answered it, which every service's log records of that request carry as
`request_id` (`booking trace` finds them).
"""
import base64
import ipaddress
import json
import logging
import time
import uuid
from functools import lru_cache, partial

from eventlet.event import Event
from nameko.exceptions import BadRequest
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from booking.auth.exceptions import OAuthError
from booking.kit.errors import BookingError, NotFound, ValidationFailed
from booking.kit.logs import calls_log, current_worker, request_id_of, working_for
from booking.kit.tokens import bearer_token
from entrypoints.gateway.sessions import WebSession, WebSessions
from entrypoints.gateway.templating import render_page

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
REQUEST_ID_HEADER = "X-Request-Id"

INTERNAL_ERROR = {
    "error": "INTERNAL_ERROR",
    "message": "Something went wrong on our side; please try again",
    "details": {},
}


class PayloadTooLarge(BookingError):
    code = "PAYLOAD_TOO_LARGE"
    http_status = 413
    default_message = f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB"


class WrongMethod(BookingError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405
    default_message = "This route does not take that method"


def error_body(exc):
    """(status, body, headers) for an exception: the one table of the HTTP edge."""
    if isinstance(exc, RequestEntityTooLarge):
        exc = PayloadTooLarge()
    if isinstance(exc, BookingError):
        return exc.http_status, exc.to_dict(), error_headers(exc)
    if isinstance(exc, BadRequest):
        return 400, ValidationFailed("The request does not match this route").to_dict(), {}
    log.error("unexpected error answering a request", exc_info=exc)
    return 500, INTERNAL_ERROR, {}


def error_headers(exc):
    if exc.http_status == 401:
        return {"WWW-Authenticate": 'Bearer realm="booking"'}
    if exc.http_status == 429 and "retry_after" in exc.details:
        return {"Retry-After": exc.details["retry_after"]}
    if exc.http_status == 405:
        return {"Allow": ", ".join(exc.details["allowed"])}
    return {}


def log_response(request, response, request_id, started):
    """Name the request in its response (X-Request-Id) and in one log line with the
    status: the path only, as a query is the guest's business."""
    response.headers[REQUEST_ID_HEADER] = request_id
    milliseconds = (time.perf_counter() - started) * 1000
    calls_log.info("%s %s %s in %.1f ms", request.method, request.path, response.status_code, milliseconds,
                   extra={"request_id": request_id, "status": response.status_code,
                          "duration_ms": round(milliseconds, 1)})


def pdf_response(document):
    """A document from reports (base64 in its reply) as a download."""
    return download(document, "application/pdf")


def download(document, mimetype):
    """A file from a service ({filename, content_base64}) as a download, kept by no cache."""
    return Response(base64.b64decode(document["content_base64"]), mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{document["filename"]}"',
        "Cache-Control": "private, no-store"})


def json_response(payload, status=200, headers=None):
    return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers)


def unrouted(request, exc):
    """The answer to an address not even a catch-all takes (a newline in it): the
    JSON error body under /api, the site's error page elsewhere."""
    failure = NotFound("There is no such address", details={"path": request.path}) if exc.code == 404 \
        else BookingError(exc.description)
    status, body, headers = error_body(failure)
    if request.path.startswith("/api/"):
        return json_response(body, status=status, headers=headers)
    return render_page("error.html", status=status, error=body, status_code=status, headers=headers)


@lru_cache
def compiled_url_map(routes):
    """A URL map of `routes` ((url, methods) pairs) whose endpoints are their
    positions, compiled once per process: Werkzeug compiles every rule into code,
    about 40 ms for the gateway's hundred, and the tests start a gateway hundreds of
    times a process (it was a twelfth of a test process's CPU)."""
    return Map([Rule(url, methods=methods.split(","), endpoint=position)
                for position, (url, methods) in enumerate(routes)])


class GatewayApp(WsgiApp):
    """nameko's WSGI app, except that another method on a known route is a 405
    answered by that route's handler (the API's JSON error body, or the UI's error
    page), with an `Allow` naming the route's own methods: a catch-all (the /api
    404) neither hides a route's 405 nor adds its GET to one."""

    def __init__(self, server):
        # not nameko's map, whose endpoints are this container's handlers: a map
        # shared by the process, and the handlers in the order of its endpoints
        self.server = server
        self.handlers = sorted(server._providers, key=lambda handler: (handler.url, handler.method))
        self.url_map = compiled_url_map(tuple((handler.url, handler.method) for handler in self.handlers))

    def __call__(self, environ, start_response):
        # as nameko does: shallow, so that only the handler reads the body
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = self.match(adapter, request)
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            # no route takes it, so no worker: still an id the guest can quote
            started = time.perf_counter()
            response = exc.response or unrouted(request, exc)
            log_response(request, response, f"gateway.http.{uuid.uuid4()}", started)
        return response(environ, start_response)

    def match(self, adapter, request):
        try:
            position, values = adapter.match()
            if not self.handlers[position].catch_all:
                return self.handlers[position], values
        except MethodNotAllowed:
            pass
        routes = {method: adapter.match(method=method) for method in adapter.allowed_methods()}
        allowed = sorted(method for method, (position, _) in routes.items() if not self.handlers[position].catch_all)
        if not allowed:  # only a catch-all takes this path, whatever the method
            position, values = next(iter(routes.values()))
            return self.handlers[position], values
        handler = self.handlers[routes[allowed[0]][0]]
        raise MethodNotAllowed(response=handler.error_response(WrongMethod(details={"allowed": allowed}), request))


class GatewayServer(WebServer):
    def context_data_from_headers(self, request):
        """An API client's `Authorization: Bearer` token travels on with every call."""
        token = bearer_token(request.headers.get("Authorization"))
        return {"authorization": f"Bearer {token}"} if token else {}

    def get_wsgi_app(self):
        return GatewayApp(self)

    def get_wsgi_server(self, sock, wsgi_app, **kwargs):
        server = super().get_wsgi_server(sock, wsgi_app, **kwargs)
        # a query may be as long as a body (eventlet's own limit is 8 KiB), so that the
        # route answers a long one, in its error body; beyond it the server answers 414
        server.url_length_limit = MAX_BODY_BYTES
        return server


class GatewayHandler(HttpRequestHandler):
    server = GatewayServer()

    def __init__(self, method, url, catch_all=False, **kwargs):
        # a typed error is an answer, not a fault: nameko logs it as a warning
        kwargs.setdefault("expected_exceptions", BookingError)
        # a catch-all answers 404 under a prefix; it takes no part in a 405's `Allow`
        self.catch_all = catch_all
        super().__init__(method, url, **kwargs)

    def handle_request(self, request):
        """nameko's, except that the response carries its request's id, and that
        what is logged while the response is made (a 500's error) carries it too."""
        request.shallow = False
        started = time.perf_counter()
        worker_ctx = None
        try:
            context_data = self.server.context_data_from_headers(request)
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            event = Event()
            worker_ctx = self.container.spawn_worker(
                self, args, kwargs, context_data=context_data, handle_result=partial(self.handle_result, event))
            result = event.wait()
            with working_for(worker_ctx):
                response = self.response_from_result(result)
        except Exception as exc:
            with working_for(worker_ctx):
                response = self.error_response(exc, request)
        # refused before any worker ran (its arguments): an id of the same shape
        request_id = request_id_of(worker_ctx) if worker_ctx else f"gateway.{self.method_name}.{uuid.uuid4()}"
        with working_for(worker_ctx):
            log_response(request, response, request_id, started)
        if worker_ctx is not None:
            # the response is made now, a page's or an error's: dependencies add to it
            # (the session's cookie: entrypoints/gateway/sessions.py)
            for dependency in self.container.dependencies:
                if hasattr(dependency, "finish_response"):
                    dependency.finish_response(worker_ctx, response)
        return response

    def error_response(self, exc, request):
        """The response to `exc`, raised while answering `request` (in its worker, if
        one ran: see `working_for`)."""
        return self.response_from_exception(exc)


class ApiHandler(GatewayHandler):
    def response_from_result(self, result):
        if isinstance(result, Response):
            return result
        return json_response(result)

    def response_from_exception(self, exc):
        status, body, headers = error_body(exc)
        return json_response(body, status=status, headers=headers)


class OAuthHandler(ApiHandler):
    """RFC 6749 §5: `{"error", "error_description"}` and no caching."""

    def response_from_result(self, result):
        response = super().response_from_result(result)
        response.headers["Cache-Control"] = "no-store"
        return response

    def response_from_exception(self, exc):
        if isinstance(exc, ValidationFailed):
            exc = OAuthError(exc.message)
        if isinstance(exc, OAuthError):
            headers = {"Cache-Control": "no-store"}
            if exc.http_status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="booking"'
            return json_response(exc.to_oauth(), status=exc.http_status, headers=headers)
        return super().response_from_exception(exc)


class PageHandler(GatewayHandler):
    # a page has the web session (its cookie, its CSRF token, the user's tokens); the
    # JSON API has none and authenticates by its Bearer token alone
    uses_session = True

    def response_from_exception(self, exc):
        return self.error_response(exc, None)

    def error_response(self, exc, request):
        """An error page, with the header of every page: the guest's own name and
        links when logged in."""
        status, body, headers = error_body(exc)
        return render_page("error.html", status=status, error=body, status_code=status, headers=headers,
                           session=self.guest_session(request))

    def guest_session(self, request):
        """The session of the worker that failed; when no worker ran (a wrong method,
        arguments the route refused), the session its cookie holds, only read: the
        page is made for it and nothing in it changes."""
        session = getattr(getattr(current_worker(), "service", None), "session", None)
        if isinstance(session, WebSession) or request is None:
            return session
        sessions = next((dependency for dependency in self.container.dependencies
                         if isinstance(dependency, WebSessions)), None)
        # its cookie decrypted as a worker's session would be (no refresh: nothing is sent back)
        return sessions.read(request.cookies) if sessions else None


api = ApiHandler.decorator
oauth = OAuthHandler.decorator
page = PageHandler.decorator


def trusted_proxies(config):
    """The networks of the proxies in front of the gateway (TRUSTED_PROXIES: addresses
    or CIDRs, comma-separated; none by default)."""
    return [ipaddress.ip_network(entry.strip(), strict=False)
            for entry in str(config.get("TRUSTED_PROXIES") or "").split(",") if entry.strip()]


def client_address(request, proxies):
    """Where the request came from: its peer's address, unless the peer is one of the
    trusted proxies; then the last address of X-Forwarded-For that is not one of
    them (what comes before it, a client could have written)."""
    def trusted(address):
        try:
            return any(ipaddress.ip_address(address) in network for network in proxies)
        except ValueError:
            return False

    peer = request.remote_addr
    if not trusted(peer):
        return peer
    forwarded = [address.strip() for address in request.headers.get("X-Forwarded-For", "").split(",")]
    for address in reversed([address for address in forwarded if address]):
        if not trusted(address):
            return address
    return peer


def query_args(request, allowed):
    """The query string as a dict; an unknown parameter is a 400, not silently ignored
    (the JSON API is documented, and strict)."""
    return known_fields(request.args, allowed, "Unknown query parameters")


def page_args(request, allowed):
    """The query string of a page as a dict of the parameters it uses: a link that
    came through a newsletter or a share (`utm_source`, `fbclid`, `lang`, ...) still
    opens the page."""
    return known_fields({name: value for name, value in request.args.items() if name in allowed}, allowed, "")


def form_fields(request, allowed):
    """A form-encoded body as a dict, without its CSRF token (check that apart)."""
    check_size(request)
    fields = known_fields(request.form, (*allowed, "csrf_token"), "Unknown form fields")
    fields.pop("csrf_token", None)
    return fields


def json_body(request, allowed, keep_empty=False):
    """The request's JSON object; 400 if it is not one or has an unknown field,
    413 if it is too large. An empty string counts as absent, as forms send it,
    unless `keep_empty` (where absent has a meaning of its own)."""
    check_size(request)
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except ValueError:
        raise ValidationFailed("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object")
    return known_fields(body, allowed, "Unknown fields", keep_empty)


NOT_TEXT = "Text may not hold a NUL character or an unpaired surrogate."


def storable(value):
    """False if some text in `value` (a JSON value) holds what no database stores: a NUL
    character (PostgreSQL refuses it) or an unpaired surrogate (it is not UTF-8)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, dict):
        return all(storable(key) and storable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(storable(item) for item in value)
    return True


def check_size(request):
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    request.max_content_length = MAX_BODY_BYTES


def known_fields(values, allowed, message, keep_empty=False):
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ValidationFailed(message, details={name: ["Unknown field."] for name in unknown})
    unstorable = sorted(name for name, value in values.items() if not storable(value))
    if unstorable:
        raise ValidationFailed("Some arguments are not valid", details={name: [NOT_TEXT] for name in unstorable})
    # absent and empty are the same; the service says what is required
    return {name: value for name, value in values.items() if keep_empty or value != ""}
