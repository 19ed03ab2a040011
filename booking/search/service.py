
from nameko.events import BROADCAST

from booking.kit.database import Database
from booking.kit.errors import BookingError
from booking.kit.events import event_handler
from booking.kit.health import Pingable
from booking.kit.identity import CallerIdentity
from booking.kit.logs import RequestLog
from booking.kit.metrics import Metrics
from booking.kit.outbox import Outbox
from booking.kit.rpc import ServiceRpc, rpc
from booking.kit.schemas import load
from booking.search import availability, catalogue, partner
from booking.search.models import Base
from booking.search.schemas import (
    FIND_HOTELS_REQUEST,
    GET_HOTEL_REQUEST,
    HOTEL_FIELDS,
    CalendarRequest,
    CalendarSchema,
    CalendarUpdate,
    CitySchema,
    GrantRequest,
    HotelIdRequest,
    ListCitiesRequest,
    NewHotel,
    NewRoomType,
    PartnerHotelSchema,
    PartnerHotelSummarySchema,
    ProfileUpdate,
    QuoteRequest,
    QuoteSchema,
    RoomTypeUpdate,
    dump_hotel_page,
)


class SearchService(Pingable):
    """The hotel catalogue: public reads (no token needed), and the partner side,
    where a hotel's manager (scope `partner`) runs its profile, room types and rate
    calendar, and the operator (scope `admin`) adds hotels and their managers."""

    name = "search"

    # every call logged with its request's id, counted and timed
    request_log = RequestLog()
    metrics = Metrics()
    db = Database(Base)
    # events are recorded in the transaction of their change, and published after it
    outbox = Outbox("hotel_updated")
    caller = CallerIdentity()
    # rooms sold, and how many a room type may sell: reservations keeps the inventory
    reservations = ServiceRpc("reservations", as_service=True)

    @rpc(expected_exceptions=BookingError)
    def find_hotels(self, **criteria):
        """Hotels that match, one page at a time.

        Takes (all optional): city (case and accents ignored), check_in and
        check_out (ISO dates, both or neither), guests (default 1), min_stars,
        max_price (a night, e.g. "150.00"), sort ("price", "stars" or "name"),
        page (from 1), per_page (1 to 100, default 20).
        Returns {items: [hotel summary], total, page, per_page, pages}; each
        summary has from_price (the cheapest room that fits, a night) and, with
        dates, stay_price and nights.
        Raises ValidationFailed.
        """
        request = load(FIND_HOTELS_REQUEST, criteria)
        with self.db.get_session() as session:
            page = catalogue.find_hotels(session, **request)
        return dump_hotel_page(page)

    @rpc(expected_exceptions=BookingError)
    def get_hotel(self, hotel_id, **stay):
        """One hotel with its room types that sleep `guests`, cheapest first.

        Takes hotel_id, and optionally check_in, check_out, guests.
        Returns the hotel (description, amenities, time zone, check-in and
        check-out times, currency, VAT rate, city tax, room_types with
        nightly_price, max_adults, max_occupancy, room_count, rate_plans {code,
        name, nightly_price} and, with dates, each plan's stay_price and
        cancellation_policy, the cheapest stay_price and rooms_left).
        Raises HotelNotFound, ValidationFailed.
        """
        request = load(GET_HOTEL_REQUEST, {"hotel_id": hotel_id, **stay})
        with self.db.get_session() as session:
            hotel = catalogue.get_hotel(
                session, request["hotel_id"], guests=request["guests"],
                check_in=request["check_in"], check_out=request["check_out"],
            )
        return HOTEL_FIELDS.dump(hotel)

    @rpc(expected_exceptions=BookingError)
    def quote(self, hotel_id, check_in, check_out, rooms):
        """The price of a stay of one or more rooms, from the rate calendar.

        Takes hotel_id, check_in, check_out and rooms: a list of {room_type,
        rate_plan (default "flexible"), adults (default 1), children (ages 0-17)}.
        Returns {hotel, check_in, check_out, currency, rooms: [{room_type,
        rate_plan, adults, children, nights: [{date, price}], price, city_tax,
        total, cancellation_policy}], room_total, vat (included), vat_rate,
        city_tax (added), total, cancellation_policy {deadline (UTC),
        deadline_local, penalty, description}}.
        Raises HotelNotFound, RoomNotSellable (422: unknown room type or plan, too
        many people, dates the calendar does not sell), ValidationFailed.
        """
        request = load(QuoteRequest(), {"hotel_id": hotel_id, "check_in": check_in, "check_out": check_out,
                                        "rooms": rooms})
        with self.db.get_session() as session:
            priced = catalogue.quote(session, **request)
        return QuoteSchema().dump(priced)

    @rpc(expected_exceptions=BookingError)
    def list_cities(self, prefix=None):
        """Cities with their number of hotels, by name; `prefix` (accents and case
        ignored) narrows the list, e.g. for suggestions as someone types.
        Raises ValidationFailed.
        """
        request = load(ListCitiesRequest(), {"prefix": prefix})
        with self.db.get_session() as session:
            return CitySchema(many=True).dump(catalogue.list_cities(session, **request))

    @event_handler("reservations", "reservation_held")
    def count_held(self, reservation):
        """Rooms held leave the availability the date filter sees."""
        self._follow(reservation)

    @event_handler("reservations", "reservation_changed")
    def count_changed(self, reservation):
        """New dates or rooms, or a room cancelled: the counts follow."""
        self._follow(reservation)

    @event_handler("reservations", "reservation_cancelled")
    def count_cancelled(self, reservation):
        self._follow(reservation, ended=True)

    @event_handler("reservations", "reservation_expired")
    def count_expired(self, reservation):
        self._follow(reservation, ended=True)

    @event_handler("reservations", "reservation_no_show")
    def count_no_show(self, reservation):
        """The guest did not come: the hotel may sell the rooms again."""
        self._follow(reservation, ended=True)

    def _follow(self, reservation, ended=False):
        """Apply a reservation event to the availability and, if it changed anything,
        announce `hotel_updated` {hotel_id, city}: what was said of that hotel's rooms
        has changed (the gateway's cache forgets it). Published after the commit, so
        that whoever asks again sees the change; a redelivery changes nothing."""
        with self.db.get_session() as session:
            if availability.follow(session, reservation, ended):
                city = catalogue.city_of(session, reservation["hotel_id"])
                self.outbox.add(session, "hotel_updated", {"hotel_id": reservation["hotel_id"], "city": city},
                                aggregate=reservation["hotel_id"])

    @event_handler("search", "hotel_updated", handler_type=BROADCAST, reliable_delivery=False)
    def forget_hotel(self, update):
        """A manager changed the hotel: every instance forgets its copy at once."""
        if update.get("catalogue"):
            catalogue.COPIES.forget(update["hotel_id"])

    # -- the partner side ------------------------------------------------------------

    @rpc(expected_exceptions=BookingError)
    def partner_hotels(self):
        """The hotels the caller manages (an operator: all). Needs scope `partner`.
        Returns {items: [{id, name, city, country, stars, currency, timezone}]}."""
        caller = self.caller.require("partner")
        with self.db.get_session() as session:
            return {"items": PartnerHotelSummarySchema(many=True).dump(partner.hotels_of(session, caller))}

    @rpc(expected_exceptions=BookingError)
    def partner_hotel(self, hotel_id):
        """A hotel the caller manages, as its manager edits it: the profile (name,
        description, address, amenities, check-in and check-out times, policies_text,
        ...) and room_types [{code, name, max_adults, max_occupancy, rooms,
        base_price, rate_plans [{code, name, base_price, policy}]}]. Needs scope
        `partner`. Raises HotelNotFound (also for a hotel the caller does not manage)."""
        caller = self.caller.require("partner")
        request = load(HotelIdRequest(), {"hotel_id": hotel_id})
        with self.db.get_session() as session:
            return self._profile(partner.managed_hotel(session, caller, request["hotel_id"]))

    @rpc(expected_exceptions=BookingError)
    def managed(self, hotel_id):
        """{hotel_id, name, city, timezone, currency, room_types {code: {name, rooms}}}
        if the caller manages the hotel (for the other services' partner methods);
        else HotelNotFound. Needs scope `partner`."""
        caller = self.caller.require("partner")
        request = load(HotelIdRequest(), {"hotel_id": hotel_id})
        with self.db.get_session() as session:
            hotel = partner.managed_hotel(session, caller, request["hotel_id"])
            return {"hotel_id": hotel.id, "name": hotel.name, "city": hotel.city, "timezone": hotel.timezone,
                    "currency": hotel.currency,
                    "room_types": {room.code: {"name": room.name, "rooms": room.room_count}
                                   for room in hotel.room_types}}

    @rpc(expected_exceptions=BookingError)
    def update_hotel(self, hotel_id, **changes):
        """Change a managed hotel's name, description, address, amenities,
        check_in_time, check_out_time or policies_text (any of them). Returns the
        profile; guests see it at once (`hotel_updated`)."""
        caller = self.caller.require("partner")
        request = load(ProfileUpdate(), {**changes, "hotel_id": self._manages(caller, hotel_id)})
        with self.db.get_session() as session:
            hotel = partner.managed_hotel(session, caller, request["hotel_id"])
            partner.update_profile(hotel, request)
            self._announce(session, hotel)
            return self._profile(hotel)

    @rpc(expected_exceptions=BookingError)
    def add_room_type(self, hotel_id, code=None, name=None, max_adults=None, max_occupancy=None, rooms=None,
                      price=None):
        """A new room type of a managed hotel, sold on a `flexible` plan at `price`
        (a decimal string in the hotel's currency). Returns the profile. Raises
        RoomTypeExists (409), ValidationFailed, HotelNotFound."""
        caller = self.caller.require("partner")
        request = load(NewRoomType(), {
            "hotel_id": self._manages(caller, hotel_id), "code": code, "name": name, "max_adults": max_adults,
            "max_occupancy": max_occupancy, "rooms": rooms, "price": price})
        with self.db.get_session() as session:
            hotel = partner.managed_hotel(session, caller, request["hotel_id"])
            partner.add_room_type(session, hotel, request)
            self._announce(session, hotel)
            return self._profile(hotel)

    @rpc(expected_exceptions=BookingError)
    def update_room_type(self, hotel_id, code, **changes):
        """Change a room type's name, max_adults, max_occupancy, base price or number
        of rooms. Fewer rooms than are sold on some night are refused (RoomsSold,
        409, its nights listed, from reservations, which keeps the inventory and
        is told first); a reservation made keeps its price. Returns the profile."""
        caller = self.caller.require("partner")
        request = load(RoomTypeUpdate(), {**changes, "hotel_id": self._manages(caller, hotel_id), "code": code})
        with self.db.get_session() as session:
            hotel = partner.managed_hotel(session, caller, request["hotel_id"])
            room = partner.room_type_of(hotel, request["code"])
            partner.check_room_type_update(room, request, hotel.currency)
            resized = "rooms" in request and request["rooms"] != room.room_count
        if resized:  # no transaction open across the call
            self.reservations.set_capacity(request["hotel_id"], request["code"], request["rooms"])
        with self.db.get_session() as session:
            hotel = partner.managed_hotel(session, caller, request["hotel_id"])
            room = partner.room_type_of(hotel, request["code"])
            partner.update_room_type(room, request, hotel.currency)
            if resized:
                room.room_count = request["rooms"]
            self._announce(session, hotel)
            return self._profile(hotel)

    @rpc(expected_exceptions=BookingError)
    def calendar(self, hotel_id, start, end):
        """The rate calendar of a managed hotel from `start` to `end` (ISO dates, both
        included, at most 500 nights): per room type, each night's rooms sold and
        left; per plan, each night's price, closed, closed_to_arrival, min_stay."""
        caller = self.caller.require("partner")
        request = load(CalendarRequest(), {"hotel_id": self._manages(caller, hotel_id), "start": start, "end": end})
        return self._calendar(caller, request)

    @rpc(expected_exceptions=BookingError)
    def set_calendar(self, hotel_id, room_type=None, rate_plan=None, start=None, end=None, price=None, closed=None,
                     min_stay=None, closed_to_arrival=None):
        """Set, for the nights `start` to `end` of a room type and one plan (or `*`,
        all of them), any of: the price, closed (True closes, False opens),
        min_stay (nights, for arrivals on those days), closed_to_arrival. Nights
        with bookings may be closed: it stops new sales, the bookings stay. Guests
        see it at once; a reservation made keeps its price. Returns the calendar of
        those nights."""
        caller = self.caller.require("partner")
        request = load(CalendarUpdate(), {
            "hotel_id": self._manages(caller, hotel_id), "room_type": room_type, "rate_plan": rate_plan,
            "start": start, "end": end, "price": price, "closed": closed, "min_stay": min_stay,
            "closed_to_arrival": closed_to_arrival})
        with self.db.get_session() as session:
            hotel = partner.managed_hotel(session, caller, request["hotel_id"])
            partner.add_calendar_rule(session, hotel, request)
            self._announce(session, hotel)
        return self._calendar(caller, request)

    @rpc(expected_exceptions=BookingError)
    def create_hotel(self, **fields):
        """A new hotel (name, address, city, country, stars, and optionally
        description, amenities, timezone, currency, vat_rate, check_in_time,
        check_out_time), without room types: its manager adds them. Needs scope
        `admin`. Returns its profile."""
        self.caller.require("admin")
        request = load(NewHotel(), fields)
        with self.db.get_session() as session:
            hotel = partner.create_hotel(session, request)
            self._announce(session, hotel)
            return self._profile(hotel)

    @rpc(expected_exceptions=BookingError)
    def grant_manager(self, hotel_id, user_id):
        """`user_id` manages `hotel_id` from now on (users' `make_manager` gives the
        account the role). Needs scope `admin`. Returns {hotel_id, user_id}."""
        self.caller.require("admin")
        request = load(GrantRequest(), {"hotel_id": hotel_id, "user_id": user_id})
        with self.db.get_session() as session:
            partner.grant(session, request["hotel_id"], request["user_id"])
        return {"hotel_id": request["hotel_id"], "user_id": request["user_id"]}

    def _manages(self, caller, hotel_id):
        """The hotel's id, once the caller is known to manage it: another hotel's
        manager learns nothing, not even what is wrong with the rest of the request."""
        request = load(HotelIdRequest(), {"hotel_id": hotel_id})
        with self.db.get_session() as session:
            partner.managed_hotel(session, caller, request["hotel_id"])
        return request["hotel_id"]

    def _calendar(self, caller, request):
        booked = self.reservations.sold(request["hotel_id"], request["start"].isoformat(), request["end"].isoformat())
        with self.db.get_session() as session:
            hotel = partner.managed_hotel(session, caller, request["hotel_id"])
            return CalendarSchema().dump(partner.calendar(hotel, request["start"], request["end"], booked))

    @staticmethod
    def _profile(hotel):
        return PartnerHotelSchema().dump(partner.profile(hotel))

    def _announce(self, session, hotel):
        """Guests see the change at once: every instance of search, and the gateway's
        cache, forget what they kept of the hotel (and a copy kept where the event
        did not reach is read again within 30 s: its version changed)."""
        catalogue.mark_changed(session, hotel.id)
        self.outbox.add(session, "hotel_updated", {"hotel_id": hotel.id, "city": hotel.city, "catalogue": True},
                        aggregate=hotel.id)
