"""The monolith peer of the mix: the same routes served by ONE process that calls the
services' own query functions and schemas directly, on the same databases (no broker,
no RPC, no second process).

    python tests/bench/monolith.py PORT CONFIG_ENV…   (bench.py starts it)

It answers what the mix sends (mix.py): the cities, a search, a hotel page, signing
up, logging in (users' password check, auth's token issuer), and a booking: a quote,
a hold (reservations' `holds` and `terms`, as `hold` does) and a payment (the bank
over HTTP, as `payments.pay` does: a token, then the charge), confirming the hold in
the same request. What the distributed stack does after the answer is not done here:
no event, no confirmation PDF, no e-mail (the mix books 0.5% of its requests; the
report says so). Each route validates with the same marshmallow schemas.
"""
import json
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import eventlet

eventlet.monkey_patch()

from eventlet import wsgi  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from werkzeug.exceptions import HTTPException, NotFound  # noqa: E402
from werkzeug.routing import Map, Rule  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from booking.auth.issuer import Settings, TokenIssuer  # noqa: E402
from booking.kit.bank import BankClient  # noqa: E402
from booking.kit.config import db_uri, load_config  # noqa: E402
from booking.kit.database import create_db_engine  # noqa: E402
from booking.kit.errors import BookingError  # noqa: E402
from booking.kit.schemas import load, money  # noqa: E402
from booking.payments.ledger import request_hash as payment_hash  # noqa: E402
from booking.payments.models import Payment  # noqa: E402
from booking.payments.schemas import PayRequest, card_summary  # noqa: E402
from booking.reservations import holds, terms  # noqa: E402
from booking.reservations.models import Reservation  # noqa: E402
from booking.reservations.schemas import HoldRequest, ReservationSchema, requested_rooms  # noqa: E402
from booking.search import catalogue  # noqa: E402
from booking.search.schemas import (  # noqa: E402
    FIND_HOTELS_REQUEST,
    GET_HOTEL_REQUEST,
    HOTEL_FIELDS,
    CitySchema,
    ListCitiesRequest,
    QuoteRequest,
    QuoteSchema,
    dump_hotel_page,
)
from booking.users.models import User  # noqa: E402
from booking.users.passwords import PasswordHashing, check_policy  # noqa: E402
from booking.users.schemas import CredentialsRequest, RegisterRequest, UserSchema  # noqa: E402

ROUTES = Map([
    Rule("/api/v1/cities", endpoint="cities", methods=["GET"]),
    Rule("/api/v1/hotels", endpoint="hotels", methods=["GET"]),
    Rule("/api/v1/hotels/<int:hotel_id>", endpoint="hotel", methods=["GET"]),
    Rule("/api/v1/users", endpoint="register", methods=["POST"]),
    Rule("/api/v1/auth/login", endpoint="login", methods=["POST"]),
    Rule("/api/v1/quotes", endpoint="quote", methods=["POST"]),
    Rule("/api/v1/reservations", endpoint="hold", methods=["POST"]),
    Rule("/api/v1/reservations/<reservation_id>/payment", endpoint="pay", methods=["POST"]),
])


class Monolith:
    def __init__(self, config):
        self.config = config
        self.engines = {name: create_db_engine(db_uri(config, name))
                        for name in ("search", "users", "auth", "reservations", "payments")}
        self.tokens = Settings.from_config(config)
        self.bank = BankClient(config.get("BANK_URL"), config.get("BANK_API_KEY", "sk_test_booking"),
                               float(config.get("BANK_TIMEOUT", 10)))
        self.hold_seconds = int(config.get("HOLD_SECONDS", 900))
        self.passwords = PasswordHashing.from_config(config)

    def session(self, name):
        return Session(self.engines[name], expire_on_commit=False)

    # -- the catalogue (search's functions) -----------------------------------------

    def cities(self, request):
        criteria = load(ListCitiesRequest(), {"prefix": request.args.get("prefix")})
        with self.session("search") as session:
            return {"items": CitySchema(many=True).dump(catalogue.list_cities(session, **criteria))}

    def hotels(self, request):
        criteria = load(FIND_HOTELS_REQUEST, dict(request.args))
        with self.session("search") as session:
            return dump_hotel_page(catalogue.find_hotels(session, **criteria))

    def hotel(self, request, hotel_id):
        stay = load(GET_HOTEL_REQUEST, {"hotel_id": hotel_id, **request.args})
        with self.session("search") as session:
            return HOTEL_FIELDS.dump(catalogue.get_hotel(session, stay["hotel_id"], guests=stay["guests"],
                                                         check_in=stay["check_in"], check_out=stay["check_out"]))

    def quote(self, request, body=None):
        stay = load(QuoteRequest(), body if body is not None else body_of(request))
        with self.session("search") as session:
            return QuoteSchema().dump(catalogue.quote(session, **stay))

    # -- accounts (users' password policy and hash, auth's issuer) ---------------------

    def register(self, request):
        fields = load(RegisterRequest(), body_of(request))
        check_policy(fields["password"], fields["email"])
        with self.session("users") as session, session.begin():
            user = User(email=fields["email"], full_name=fields["full_name"],
                        password_hash=self.passwords.hash(fields["password"]), created_at=holds.utcnow())
            session.add(user)
            session.flush()
            return 201, UserSchema().dump(user)

    def login(self, request):
        fields = load(CredentialsRequest(), body_of(request))
        with self.session("users") as session:
            user = session.query(User).filter(User.email == fields["email"].strip().lower()).one_or_none()
        if not self.passwords.verify(user.password_hash if user else None, fields["password"]):
            return 401, {"error": "INVALID_CREDENTIALS", "message": "wrong e-mail or password", "details": {}}
        with self.session("auth") as session, session.begin():
            return TokenIssuer(session, self.tokens).issue(
                f"user:{user.id}", "web", frozenset({"account", "bookings"}), with_refresh=True,
                user=UserSchema().dump(user), credentials_version=user.credentials_version)

    def _caller(self, request):
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self.session("auth") as session:
            return TokenIssuer(session, self.tokens).verify(token).require("bookings")

    # -- a booking (reservations' holds, payments' charge) -------------------------------

    def hold(self, request):
        caller = self._caller(request)
        fields = load(HoldRequest(), {**body_of(request), "idempotency_key": request.headers["Idempotency-Key"]})
        quote = self.quote(request, {"hotel_id": fields["hotel_id"], "check_in": fields["check_in"].isoformat(),
                                     "check_out": fields["check_out"].isoformat(),
                                     "rooms": requested_rooms(fields)})
        lines, now = terms.lines_from_quote(quote), holds.utcnow()
        with self.session("reservations") as session, session.begin():
            holds.take_counts(session, fields["hotel_id"], holds.room_nights(lines), terms.capacities(quote))
            reservation = Reservation(
                id=holds.new_reference(), user_id=caller.user_id, idempotency_key=fields["idempotency_key"],
                request_hash=holds.request_hash(fields), hotel_id=fields["hotel_id"],
                hotel_name=quote["hotel"]["name"], hotel_address=quote["hotel"]["address"],
                timezone=quote["hotel"]["timezone"], check_in_time=quote["hotel"]["check_in_time"],
                currency=quote["currency"], quote=quote, lines=lines, status="held", version=1, kept_minor=0,
                refund_minor=0, expires_at=now + timedelta(seconds=self.hold_seconds), created_at=now,
                updated_at=now, refunded=False)
            terms.summarise(reservation)
            session.add(reservation)
            session.flush()
            return 201, ReservationSchema().dump(reservation)

    def pay(self, request, reservation_id):
        caller = self._caller(request)
        fields = load(PayRequest(), {**body_of(request), "reservation_id": reservation_id,
                                     "idempotency_key": request.headers["Idempotency-Key"]})
        with self.session("reservations") as session:
            reservation = session.get(Reservation, reservation_id)
            if reservation is None or reservation.user_id != caller.user_id or reservation.status != "held":
                return 409, {"error": "NOT_PAYABLE", "message": "not held", "details": {}}
            amount, currency = reservation.total_minor, reservation.currency
        summary, now = card_summary(fields["card"]), holds.utcnow()
        key = f"{caller.user_id}:{fields['idempotency_key']}"
        payment = Payment(id=f"pay_{uuid.uuid4().hex}", idempotency_key=key,
                          request_hash=payment_hash(reservation_id, summary), reservation_id=reservation_id,
                          user_id=caller.user_id, amount_minor=amount, currency=currency,
                          card_brand=summary["brand"], card_last4=summary["last4"], status="pending",
                          created_at=now, updated_at=now)
        with self.session("payments") as session, session.begin():
            session.add(payment)
        source = self.bank.tokenize(fields["card"])["id"]
        charge = self.bank.charge(amount_minor=amount, currency=currency, source=source, reference=reservation_id,
                                  description=f"Booking {reservation_id}", idempotency_key=payment.id)
        with self.session("payments") as session, session.begin():
            stored = session.get(Payment, payment.id)
            stored.status, stored.bank_charge_id = charge.status.replace("declined", "failed"), charge.charge_id
        if charge.status == "succeeded":
            with self.session("reservations") as session, session.begin():
                holds.move(session, reservation_id, "confirmed", reason="paid", payment_id=payment.id)
        return 200, {"id": payment.id, "reservation_id": reservation_id, "status": stored.status,
                     "amount": money(amount, currency)}

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            endpoint, arguments = ROUTES.bind_to_environ(environ).match()
            answer = getattr(self, endpoint)(request, **arguments)
            status, body = answer if isinstance(answer, tuple) else (200, answer)
        except BookingError as error:
            status, body = error.http_status, {"error": error.code, "message": error.message,
                                               "details": error.details or {}}
        except NotFound:
            status, body = 404, {"error": "NOT_FOUND", "message": "no such route", "details": {}}
        except HTTPException as error:
            status, body = error.code, {"error": "HTTP", "message": error.description, "details": {}}
        response = Response(json.dumps(body, default=str), status=status, mimetype="application/json")
        return response(environ, start_response)


def body_of(request):
    """The JSON body, whatever its Content-Type says (as the gateway reads it)."""
    return json.loads(request.get_data() or b"{}")


def main():
    port = int(sys.argv[1])
    app = Monolith(load_config())
    wsgi.server(eventlet.listen(("127.0.0.1", port), backlog=1024), app, log_output=False,
                max_size=1000, keepalive=True)


if __name__ == "__main__":
    main()
