"""The partner back office's JSON API: a hotel manager's hotels, their profile, room
types, rate calendar, reservations (checking guests in and out) and monthly report,
under /api/v1/partner/; and the operator's, under /api/v1/admin/.

Who may do what is the services' to say (scope `partner`, and search's list of who
manages which hotel; scope `admin` for the operator's routes): a hotel someone does
not manage is a 404, as if it did not exist. A route only asks first that a token
came, so that a request without one is 401 whatever else is wrong with it."""
from werkzeug.wrappers import Response

from booking.kit.errors import Unauthorized
from booking.kit.tokens import bearer_token
from entrypoints.gateway.http import api, json_body, json_response, pdf_response, query_args

HOTEL_FIELDS = ("name", "description", "address", "amenities", "check_in_time", "check_out_time", "policies_text")
ROOM_TYPE_FIELDS = ("name", "max_adults", "max_occupancy", "rooms", "price")
NEW_ROOM_TYPE_FIELDS = ("code", *ROOM_TYPE_FIELDS)
CALENDAR_VALUES = ("price", "closed", "min_stay", "closed_to_arrival")
CALENDAR_FIELDS = ("room_type", "rate_plan", "from", "to", *CALENDAR_VALUES)
RESERVATION_FILTERS = ("arrival", "departure", "status", "q")
NEW_HOTEL_FIELDS = ("name", "address", "city", "country", "stars", "description", "timezone", "currency",
                    "amenities", "check_in_time", "check_out_time", "vat_rate")


def caller_first(request):
    """401 without a token, before the request's body or query is looked at."""
    if bearer_token(request.headers.get("Authorization")) is None:
        raise Unauthorized("This needs an access token")


def csv_response(document):
    """A report from reservations (`{filename, csv}`) as a download."""
    return Response(document["csv"], mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{document["filename"]}"',
        "Cache-Control": "private, no-store"})


class PartnerRoutes:
    # -- a manager's hotels and their profile ---------------------------------------------------

    @api("GET", "/api/v1/partner/hotels")
    def partner_hotels(self, request):
        caller_first(request)
        query_args(request, ())
        return self.search.partner_hotels()

    @api("GET", "/api/v1/partner/hotels/<int:hotel_id>")
    def partner_hotel(self, request, hotel_id):
        caller_first(request)
        return self.search.partner_hotel(hotel_id)

    @api("PATCH", "/api/v1/partner/hotels/<int:hotel_id>")
    def update_partner_hotel(self, request, hotel_id):
        caller_first(request)
        # "" clears the policies text: absent is unchanged, empty is a value here
        return self.search.update_hotel(hotel_id, **json_body(request, HOTEL_FIELDS, keep_empty=True))

    # -- room types -----------------------------------------------------------------------------

    @api("GET", "/api/v1/partner/hotels/<int:hotel_id>/room-types")
    def partner_room_types(self, request, hotel_id):
        caller_first(request)
        return {"items": self.search.partner_hotel(hotel_id)["room_types"]}

    @api("POST", "/api/v1/partner/hotels/<int:hotel_id>/room-types")
    def add_room_type(self, request, hotel_id):
        caller_first(request)
        profile = self.search.add_room_type(hotel_id, **json_body(request, NEW_ROOM_TYPE_FIELDS))
        return json_response(profile, status=201)

    @api("PATCH", "/api/v1/partner/hotels/<int:hotel_id>/room-types/<string:room_type>")
    def update_room_type(self, request, hotel_id, room_type):
        caller_first(request)
        return self.search.update_room_type(hotel_id, room_type, **json_body(request, ROOM_TYPE_FIELDS))

    # -- the rate calendar ----------------------------------------------------------------------

    @api("GET", "/api/v1/partner/hotels/<int:hotel_id>/calendar")
    def partner_calendar(self, request, hotel_id):
        caller_first(request)
        args = query_args(request, ("from", "to"))
        return self.search.calendar(hotel_id, args.get("from"), args.get("to"))

    @api("PUT", "/api/v1/partner/hotels/<int:hotel_id>/calendar")
    def set_partner_calendar(self, request, hotel_id):
        caller_first(request)
        body = json_body(request, CALENDAR_FIELDS)
        return self.search.set_calendar(hotel_id, body.pop("room_type", None), body.pop("rate_plan", None),
                                        body.pop("from", None), body.pop("to", None), **body)

    # -- reservations ---------------------------------------------------------------------------

    @api("GET", "/api/v1/partner/hotels/<int:hotel_id>/reservations")
    def partner_reservations(self, request, hotel_id):
        caller_first(request)
        return self.reservations.hotel_reservations(hotel_id, **query_args(request, RESERVATION_FILTERS))

    @api("POST", "/api/v1/partner/reservations/<string:reservation_id>/check-in")
    def check_in(self, request, reservation_id):
        caller_first(request)
        return self.reservations.check_in(reservation_id)

    @api("POST", "/api/v1/partner/reservations/<string:reservation_id>/check-out")
    def check_out(self, request, reservation_id):
        caller_first(request)
        return self.reservations.check_out(reservation_id)

    @api("POST", "/api/v1/partner/reservations/<string:reservation_id>/no-show")
    def no_show(self, request, reservation_id):
        caller_first(request)
        return self.reservations.no_show(reservation_id)

    # -- the monthly report ---------------------------------------------------------------------

    @api("GET", "/api/v1/partner/hotels/<int:hotel_id>/report")
    def partner_report(self, request, hotel_id):
        caller_first(request)
        return self.reservations.monthly_report(hotel_id, query_args(request, ("month",)).get("month"))

    @api("GET", "/api/v1/partner/hotels/<int:hotel_id>/report.csv")
    def partner_report_csv(self, request, hotel_id):
        caller_first(request)
        return csv_response(self.reservations.monthly_report_csv(
            hotel_id, query_args(request, ("month",)).get("month")))

    @api("GET", "/api/v1/partner/hotels/<int:hotel_id>/report.pdf")
    def partner_report_pdf(self, request, hotel_id):
        caller_first(request)
        return pdf_response(self.reservations.monthly_report_pdf(
            hotel_id, query_args(request, ("month",)).get("month")))

    # -- the operator's ---------------------------------------------------------------------------

    @api("POST", "/api/v1/admin/hotels")
    def create_hotel(self, request):
        caller_first(request)
        return json_response(self.search.create_hotel(**json_body(request, NEW_HOTEL_FIELDS)), status=201)

    @api("POST", "/api/v1/admin/hotels/<int:hotel_id>/managers")
    def add_manager(self, request, hotel_id):
        """The account of `email` manages the hotel from now on (it signs up first)."""
        caller_first(request)
        body = json_body(request, ("email",))
        # users checks the scope `admin` first: without it nobody is made a manager
        user = self.users.make_manager(body.get("email"))
        grant = self.search.grant_manager(hotel_id, user["id"])
        return json_response({**grant, "email": user["email"], "full_name": user["full_name"]}, status=201)
