import mimetypes
from importlib import resources

from nameko.events import BROADCAST
from werkzeug.wrappers import Response

from booking.kit.errors import NotFound, ValidationFailed
from booking.kit.events import event_handler
from entrypoints.gateway.http import api, page, page_args, query_args

HOTEL_SEARCH_ARGS = (
    "city", "check_in", "check_out", "guests", "min_stars", "max_price", "sort", "page", "per_page",
)
STAY_ARGS = ("check_in", "check_out", "guests")
STATIC = resources.files("entrypoints.gateway") / "static"


def frozen(arguments):
    """Query arguments as a cache key."""
    return tuple(sorted(arguments.items()))


class SearchRoutes:
    """The catalogue's routes, answered from the gateway's cache when it can
    (entrypoints/gateway/cache.py)."""

    @api("GET", "/api/v1/cities")
    def cities(self, request):
        return {"items": self._cities(query_args(request, ["prefix"]))}

    @api("GET", "/api/v1/hotels")
    def hotels(self, request):
        return self._find_hotels(query_args(request, HOTEL_SEARCH_ARGS))

    @api("GET", "/api/v1/hotels/<int:hotel_id>")
    def hotel(self, request, hotel_id):
        return self._hotel(hotel_id, query_args(request, STAY_ARGS))

    @event_handler("search", "hotel_updated", handler_type=BROADCAST, reliable_delivery=False)
    def forget_hotel(self, update):
        """A hotel's rooms changed: forget what this instance kept about it."""
        self.search_cache.forget_hotel(update["hotel_id"], update.get("city"))

    def _cities(self, criteria):
        return self.search_cache.fetch(("cities", frozen(criteria)), lambda: self.search.list_cities(**criteria))

    def _find_hotels(self, criteria):
        return self.search_cache.fetch(("hotels", frozen(criteria)), lambda: self.search.find_hotels(**criteria),
                                       dated="check_in" in criteria)

    def _hotel(self, hotel_id, stay):
        return self.search_cache.fetch(("hotel", hotel_id, frozen(stay)),
                                       lambda: self.search.get_hotel(hotel_id, **stay), dated="check_in" in stay)

    # GET only: another method on a known route answers 405, not 404
    @api("GET", "/api/<path:anything>", catch_all=True)
    def no_such_route(self, request, anything):
        raise NotFound("There is no such API route", details={"path": request.path})

    @page("GET", "/")
    def search_page(self, request):
        criteria = page_args(request, HOTEL_SEARCH_ARGS)
        results, errors = None, {}
        if criteria.get("city"):
            try:
                results = self._find_hotels(criteria)
            except ValidationFailed as invalid:
                errors = invalid.details
        return self.templates.render(
            "search.html", session=self.session, criteria=criteria, cities=self._cities({}),
            results=results, errors=errors, status=400 if errors else 200,
        )

    @page("GET", "/hotels/<int:hotel_id>")
    def hotel_page(self, request, hotel_id):
        # the stay, and how many rooms the form of several rooms asks about (pages.py)
        return self._hotel_page(hotel_id, page_args(request, (*STAY_ARGS, "rooms")))

    @page("GET", "/static/<path:filename>")
    def static(self, request, filename):
        asset = STATIC.joinpath(*filename.split("/"))
        if ".." in filename.split("/") or not asset.is_file():
            raise NotFound("No such file")
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return Response(
            asset.read_bytes(), mimetype=content_type, headers={"Cache-Control": "max-age=3600"}
        )
