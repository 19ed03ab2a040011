
from booking.kit.database import Database
from booking.kit.errors import BookingError
from booking.kit.events import event_handler
from booking.kit.health import Pingable
from booking.kit.logs import RequestLog
from booking.kit.metrics import Metrics
from booking.kit.outbox import Outbox
from booking.kit.rpc import rpc
from booking.kit.schemas import load
from booking.search import availability, catalogue
from booking.search.models import Base
from booking.search.schemas import (
    CitySchema,
    FindHotelsRequest,
    GetHotelRequest,
    HotelPageSchema,
    HotelSchema,
    ListCitiesRequest,
    QuoteRequest,
    QuoteSchema,
)


class SearchService(Pingable):
    """The hotel catalogue. Every method here is a public read: no token needed."""

    name = "search"

    # every call logged with its request's id, counted and timed
    request_log = RequestLog()
    metrics = Metrics()
    db = Database(Base)
    # events are recorded in the transaction of their change, and published after it
    outbox = Outbox("hotel_updated")

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
        request = load(FindHotelsRequest(), criteria)
        with self.db.get_session() as session:
            page = catalogue.find_hotels(session, **request)
        return HotelPageSchema().dump(page)

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
        request = load(GetHotelRequest(), {"hotel_id": hotel_id, **stay})
        with self.db.get_session() as session:
            hotel = catalogue.get_hotel(
                session, request["hotel_id"], guests=request["guests"],
                check_in=request["check_in"], check_out=request["check_out"],
            )
        return HotelSchema().dump(hotel)

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
