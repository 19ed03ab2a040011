import mimetypes
from importlib import resources

from nameko.events import BROADCAST
from werkzeug.wrappers import Response

from booking.kit.errors import NotFound, ValidationFailed
from booking.kit.events import event_handler
from booking.kit.schemas import MAX_ROOMS
from entrypoints.gateway.http import api, page, page_args, query_args

HOTEL_SEARCH_ARGS = (
    "city", "check_in", "check_out", "guests", "min_stars", "max_price", "sort", "page", "per_page",
)
STAY_ARGS = ("check_in", "check_out", "guests")
# what else of a search a hotel link carries, for the hotel page's way back to its results
RESULTS_ARGS = ("min_stars", "max_price", "sort", "page", "per_page")
# the search page also asks how many rooms the guests share (the hotel page books them)
SEARCH_PAGE_ARGS = (*HOTEL_SEARCH_ARGS, "rooms")
STATIC = resources.files("entrypoints.gateway") / "static"


def frozen(arguments):
    """Query arguments as a cache key."""
    return tuple(sorted(arguments.items()))


def room_count(value):
    """How many rooms a search asks for: 1 to MAX_ROOMS (anything else is 1)."""
    return min(max(int(value), 1), MAX_ROOMS) if str(value or "").isdigit() else 1


def per_room(criteria, rooms):
    """The search's criteria for one of `rooms` rooms: its share of the guests, rounded up."""
    guests = str(criteria.get("guests", ""))
    if rooms == 1 or not guests.isdigit():
        return criteria
    return {**criteria, "guests": str(-(-int(guests) // rooms))}


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
        criteria = page_args(request, SEARCH_PAGE_ARGS)
        rooms = room_count(criteria.pop("rooms", None))
        wanted = per_room(criteria, rooms)
        results, errors, past_the_end, largest = None, {}, None, None
        if criteria.get("city"):
            try:
                results = self._find_hotels(wanted)
                if results["total"] and results["page"] > results["pages"]:
                    # page=99 of 5 (an old link, fewer hotels now): the last page, and a word why
                    past_the_end = results["page"]
                    results = self._find_hotels({**wanted, "page": str(results["pages"])})
                elif not results["total"]:
                    largest = self._largest_room(wanted)
            except ValidationFailed as invalid:
                errors = invalid.details
        if rooms > 1:
            criteria["rooms"] = str(rooms)
        guests = int(criteria["guests"]) if str(criteria.get("guests", "")).isdigit() else 1
        return self.templates.render(
            "search.html", session=self.session, criteria=criteria, cities=self._cities({}), rooms=rooms,
            max_rooms=MAX_ROOMS, results=results, errors=errors, past_the_end=past_the_end, largest=largest,
            guests=guests, each=wanted.get("guests"), rooms_needed=-(-guests // largest) if largest else None,
            status=400 if errors else 200,
        )

    def _largest_room(self, criteria):
        """When a search finds nothing, how many guests the largest room it could find
        sleeps (the same search for fewer guests); None if fewer guests find nothing
        either (the guests are not why). At most 4 searches, cached like any other."""
        guests = str(criteria.get("guests", ""))
        low, high, largest = 1, (int(guests) - 1 if guests.isdigit() else 0), None
        while low <= high:
            middle = (low + high) // 2
            if self._find_hotels({**criteria, "guests": str(middle), "page": "1", "per_page": "1"})["total"]:
                largest, low = middle, middle + 1
            else:
                high = middle - 1
        return largest

    @page("GET", "/hotels/<int:hotel_id>")
    def hotel_page(self, request, hotel_id):
        # the stay, and how many rooms the form of several rooms asks about (pages.py)
        return self._hotel_page(hotel_id, page_args(request, (*STAY_ARGS, "rooms", *RESULTS_ARGS)))

    @page("GET", "/static/<path:filename>")
    def static(self, request, filename):
        asset = STATIC.joinpath(*filename.split("/"))
        if ".." in filename.split("/") or not asset.is_file():
            raise NotFound("No such file")
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return Response(
            asset.read_bytes(), mimetype=content_type, headers={"Cache-Control": "max-age=3600"}
        )
