from nameko.dependency_providers import Config

from booking.kit.bank import Bank
from booking.kit.logs import RequestLog
from booking.kit.metrics import Metrics
from booking.kit.rpc import ServiceRpc
from entrypoints.gateway.cache import SearchCache
from entrypoints.gateway.routes.accounts import AccountRoutes
from entrypoints.gateway.routes.bookings import BookingRoutes
from entrypoints.gateway.routes.docs import DocsRoutes
from entrypoints.gateway.routes.health import HealthRoutes
from entrypoints.gateway.routes.info import InfoPages
from entrypoints.gateway.routes.outbox import OutboxPages
from entrypoints.gateway.routes.pages import BookingPages
from entrypoints.gateway.routes.partner import PartnerRoutes
from entrypoints.gateway.routes.partner_pages import PartnerPages
from entrypoints.gateway.routes.search import SearchRoutes
from entrypoints.gateway.sessions import WebSessions
from entrypoints.gateway.templating import Templates


class GatewayService(HealthRoutes, SearchRoutes, AccountRoutes, BookingRoutes, BookingPages, DocsRoutes,
                     OutboxPages, InfoPages, PartnerRoutes, PartnerPages):
    """The booking UI and the public JSON API. Its routes live in `routes/`, one
    module per area; every call it makes to a service has a deadline."""

    name = "gateway"

    # every call logged with its request's id, counted and timed
    request_log = RequestLog()
    metrics = Metrics()
    search = ServiceRpc("search")
    search_cache = SearchCache()
    users = ServiceRpc("users")
    auth = ServiceRpc("auth")
    reservations = ServiceRpc("reservations")
    payments = ServiceRpc("payments")
    reports = ServiceRpc("reports")
    session = WebSessions()
    templates = Templates()
    config = Config()
    # only to tokenize cards at the edge, with the publishable key (it can do nothing
    # else); payments charges, with the secret one
    bank = Bank(publishable=True)
