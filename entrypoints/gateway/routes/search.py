import mimetypes
import uuid
from importlib import resources

from werkzeug.wrappers import Response

from booking.kit.errors import NotFound, ValidationFailed
from entrypoints.gateway.http import api, page, query_args

HOTEL_SEARCH_ARGS = (
    "city", "check_in", "check_out", "guests", "min_stars", "max_price", "sort", "page", "per_page",
)
STAY_ARGS = ("check_in", "check_out", "guests")
STATIC = resources.files("entrypoints.gateway") / "static"


class SearchRoutes:
    @api("GET", "/api/v1/cities")
    def cities(self, request):
        return {"items": self.search.list_cities(**query_args(request, ["prefix"]))}

    @api("GET", "/api/v1/hotels")
    def hotels(self, request):
        return self.search.find_hotels(**query_args(request, HOTEL_SEARCH_ARGS))

    @api("GET", "/api/v1/hotels/<int:hotel_id>")
    def hotel(self, request, hotel_id):
        return self.search.get_hotel(hotel_id, **query_args(request, STAY_ARGS))

    # GET only: another method on a known route answers 405, not 404
    @api("GET", "/api/<path:anything>", catch_all=True)
    def no_such_route(self, request, anything):
        raise NotFound("There is no such API route", details={"path": request.path})

    @page("GET", "/")
    def search_page(self, request):
        criteria = query_args(request, HOTEL_SEARCH_ARGS)
        cities = self.search.list_cities.call_async()
        results, errors = None, {}
        if criteria.get("city"):
            try:
                results = self.search.find_hotels(**criteria)
            except ValidationFailed as invalid:
                errors = invalid.details
        return self.templates.render(
            "search.html", session=self.session, criteria=criteria, cities=cities.result(),
            results=results, errors=errors, status=400 if errors else 200,
        )

    @page("GET", "/hotels/<int:hotel_id>")
    def hotel_page(self, request, hotel_id):
        stay = query_args(request, STAY_ARGS)
        hotel = self.search.get_hotel(hotel_id, **stay)
        return self.templates.render("hotel.html", session=self.session, hotel=hotel, stay=stay,
                                     key=uuid.uuid4().hex)

    @page("GET", "/static/<path:filename>")
    def static(self, request, filename):
        asset = STATIC.joinpath(*filename.split("/"))
        if ".." in filename.split("/") or not asset.is_file():
            raise NotFound("No such file")
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return Response(
            asset.read_bytes(), mimetype=content_type, headers={"Cache-Control": "max-age=3600"}
        )
