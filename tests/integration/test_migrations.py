"""`booking migrate` on databases made by the version before rate plans: every row stays,
with the meaning it had, on SQLite and PostgreSQL.

Each database is built at the revision that version ended with, and filled with rows
as that version wrote them (plain SQL: today's models no longer describe those tables)."""
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from booking.kit.database import create_db_engine
from booking.kit.migrations import upgrade
from booking.payments.models import Payment, Refund
from booking.reservations import terms
from booking.reservations.models import Reservation
from booking.reservations.schemas import ReservationSchema
from booking.search import availability, catalogue, pricing
from booking.search.models import HeldStay, RateRule
from tests.conftest import database_uri

# what each service's history ended with before this round
PREVIOUS = {"search": "0003", "reservations": "0002", "payments": "0003"}
CHECK_IN = date.today() + timedelta(days=20)
CHECK_OUT = CHECK_IN + timedelta(days=3)
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(params=["sqlite", "postgresql"])
def previous(request, tmp_path):
    """{service: URI} of databases at the previous version's revisions, with its rows."""
    uris = {}
    for service, revision in PREVIOUS.items():
        uris[service] = database_uri(request, tmp_path, service)
        upgrade(service, uris[service], revision)
    run(uris["search"], [
        ("INSERT INTO hotels (id, name, address, city, city_key, country, stars, description, amenities) "
         "VALUES (7, 'Hotel Limmat', '7 Limmatquai, Zürich', 'Zürich', 'zurich', 'Switzerland', 4, 'By the river.', "
         "'[\"wifi\"]')", {}),
        ("INSERT INTO room_types (hotel_id, code, name, max_guests, room_count, price_minor, currency) "
         "VALUES (7, 'double', 'Double', 2, 10, 20000, 'EUR'), (7, 'family', 'Family', 4, 3, 35000, 'EUR')", {}),
        ("INSERT INTO held_stays (reservation_id, hotel_id, room_type, check_in, check_out, rooms, active) VALUES "
         "('BKOLDLIVE1', 7, 'double', :check_in, :check_out, 1, :yes), "
         "('BKOLDGONE1', 7, 'family', :check_in, :check_out, 1, :no)",
         {"check_in": CHECK_IN, "check_out": CHECK_OUT, "yes": True, "no": False}),
        ("INSERT INTO booked_nights (hotel_id, room_type, night, taken) VALUES (7, 'double', :night, 1)",
         {"night": CHECK_IN}),
    ])
    reservation = ("INSERT INTO reservations (id, user_id, idempotency_key, request_hash, hotel_id, hotel_name, "
                   "hotel_address, room_type, room_name, check_in, check_out, guests, rooms, nightly_price_minor, "
                   "total_minor, currency, status, status_reason, expires_at, created_at, updated_at, payment_id, "
                   "refunded) VALUES (:id, 1, :id, 'hash', 7, 'Hotel Limmat', '7 Limmatquai, Zürich', :room_type, "
                   "'Double', :check_in, :check_out, 2, 1, 20000, 60000, 'EUR', :status, NULL, :now, :now, :now, "
                   ":payment_id, :refunded)")
    run(uris["reservations"], [
        (reservation, {"id": "BKOLDLIVE1", "room_type": "double", "check_in": CHECK_IN, "check_out": CHECK_OUT,
                       "status": "confirmed", "now": NOW, "payment_id": "pay_oldlive0000000001", "refunded": False}),
        (reservation, {"id": "BKOLDGONE1", "room_type": "family", "check_in": CHECK_IN, "check_out": CHECK_OUT,
                       "status": "cancelled", "now": NOW, "payment_id": "pay_oldgone0000000001", "refunded": True}),
    ])
    payment = ("INSERT INTO payments (id, idempotency_key, request_hash, reservation_id, user_id, amount_minor, "
               "currency, card_brand, card_last4, status, bank_charge_id, bank_refund_id, refunded_minor, "
               "created_at, updated_at) VALUES (:id, :id, 'hash', :reservation_id, 1, 60000, 'EUR', 'visa', '4242', "
               ":status, 'ch_1', :refund_id, :refunded, :now, :now)")
    run(uris["payments"], [
        (payment, {"id": "pay_oldlive0000000001", "reservation_id": "BKOLDLIVE1", "status": "succeeded",
                   "refund_id": None, "refunded": 0, "now": NOW}),
        (payment, {"id": "pay_oldgone0000000001", "reservation_id": "BKOLDGONE1", "status": "refunded",
                   "refund_id": "re_1", "refunded": 60000, "now": NOW}),
    ])
    return uris


def run(uri, statements):
    engine = create_db_engine(uri)
    with engine.begin() as connection:
        for statement, parameters in statements:
            connection.execute(text(statement), parameters)
    engine.dispose()


def test_migrating_keeps_every_row_and_its_meaning(previous):
    for service, uri in previous.items():
        upgrade(service, uri)

    engine = create_db_engine(previous["search"])
    with Session(engine) as session:
        hotel = catalogue.get_hotel(session, 7, guests=1, check_in=CHECK_IN, check_out=CHECK_OUT)
        # the same flat price a night, now the flexible plan's, in the hotel's own zone
        assert [(r["code"], r["price_minor"], r["stay_price_minor"], [p["code"] for p in r["rate_plans"]])
                for r in hotel["room_types"]] == [("double", 20000, 60000, ["flexible"]),
                                                  ("family", 35000, 105000, ["flexible"])]
        assert (hotel["currency"], hotel["timezone"], hotel["city_tax_minor"]) == ("EUR", "Europe/Zurich", 0)
        stays = {stay.reservation_id: (stay.version, stay.holding) for stay in session.query(HeldStay)}
        assert stays["BKOLDLIVE1"] == (1, [{"room_type": "double", "check_in": CHECK_IN.isoformat(),
                                            "check_out": CHECK_OUT.isoformat(), "count": 1}])
        assert stays["BKOLDGONE1"][1] == []
        # the night already booked is found by its city (search 0007 gave it its hotel's)
        assert availability.rooms_taken_in(session, "zurich", CHECK_IN, CHECK_OUT) == {(7, "double"): 1}
    engine.dispose()

    engine = create_db_engine(previous["reservations"])
    with Session(engine) as session:
        live, gone = session.get(Reservation, "BKOLDLIVE1"), session.get(Reservation, "BKOLDGONE1")
        [line] = live.lines
        assert (line.room_type, line.adults, line.total_minor, [n["price_minor"] for n in line.nights]) == (
            "double", 2, 60000, [20000, 20000, 20000])
        assert (live.total_minor, live.status, live.payment_id) == (60000, "confirmed", "pay_oldlive0000000001")
        # cancelling was always free and refunded in full before policies: it still is, whenever
        assert terms.cancellation(live, datetime.now(UTC) + timedelta(days=19))["refund_minor"] == 60000
        assert ReservationSchema().dump(live)["cancellation_policy"]["description"] == \
            "Free cancellation until the stay ends."
        assert (gone.status, gone.refunded, gone.refund_minor, gone.total_minor) == ("cancelled", True, 60000, 60000)
    engine.dispose()

    engine = create_db_engine(previous["payments"])
    with Session(engine) as session:
        live, gone = session.get(Payment, "pay_oldlive0000000001"), session.get(Payment, "pay_oldgone0000000001")
        assert (live.status, live.purpose, live.refunded_minor) == ("succeeded", "booking", 0)
        assert (gone.status, gone.refunded_minor) == ("refunded", 60000)
        [refund] = session.query(Refund).all()
        assert (refund.id, refund.payment_id, refund.amount_minor, refund.kind) == (
            "refund-pay_oldgone0000000001", "pay_oldgone0000000001", 60000, "returned")
        assert refund.note_sent_at is not None  # no credit note was promised for it
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migrating_from_before_the_partner_side_keeps_restrictions_and_accounts(kind, request, tmp_path):
    """Rules whose `closed` said false (no say, then) keep saying nothing, so that a
    manager's later rule is what may open a night; every account is a guest's."""
    request.param = kind
    search, users = database_uri(request, tmp_path, "search"), database_uri(request, tmp_path, "users")
    upgrade("search", search, "0004")
    upgrade("users", users, "0004")
    rule = ("INSERT INTO rate_rules (hotel_id, name, starts, ends, every_year, closed, closed_to_arrival, "
            "min_stay) VALUES (7, :name, :starts, :ends, :no, :closed, :no, NULL)")
    run(search, [
        ("INSERT INTO hotels (id, name, address, city, city_key, country, stars, description, amenities) "
         "VALUES (7, 'Hotel Limmat', '7 Limmatquai', 'Zürich', 'zurich', 'Switzerland', 4, '', '[]')", {}),
        (rule, {"name": "Christmas", "starts": date(2030, 12, 24), "ends": date(2030, 12, 26), "no": False,
                "closed": True}),
        (rule, {"name": "Winter", "starts": date(2030, 12, 1), "ends": date(2030, 12, 31), "no": False,
                "closed": False}),
    ])
    run(users, [("INSERT INTO users (email, full_name, password_hash, created_at) "
                 "VALUES ('ada@example.com', 'Ada', 'hash', :now)", {"now": NOW})])

    upgrade("search", search)
    upgrade("users", users)

    engine = create_db_engine(search)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT name, closed, closed_to_arrival FROM rate_rules ORDER BY id")).all()
    with Session(engine) as session:
        rules = [pricing.Rule.of(rule) for rule in session.scalars(select(RateRule).order_by(RateRule.id))]
    engine.dispose()
    assert [(name, closed, arrival) for name, closed, arrival in rows] == [("Christmas", True, None),
                                                                           ("Winter", None, None)]
    # closed for Christmas as before, although the later winter rule covers it
    assert pricing.refusal(rules, date(2030, 12, 25), date(2030, 12, 27))[0] == "check_in"
    assert pricing.refusal(rules, date(2030, 12, 27), date(2030, 12, 29)) is None
    engine = create_db_engine(users)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT role FROM users")).scalars().all() == ["guest"]
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migrating_to_account_links_keeps_accounts_and_sessions(kind, request, tmp_path):
    """users 0006: every account stays, with its password and role, not verified (nobody
    proved the address) and at password version 0. auth 0003: every refresh token stays,
    of version NULL, which the next new password of its account signs out."""
    request.param = kind
    users, auth = database_uri(request, tmp_path, "users"), database_uri(request, tmp_path, "auth")
    upgrade("users", users, "0005")
    upgrade("auth", auth, "0002")
    run(users, [("INSERT INTO users (email, full_name, password_hash, created_at, role, welcome_sent_at) "
                 "VALUES ('ada@example.com', 'Ada', '$argon2id$hash', :now, 'manager', :now)", {"now": NOW})])
    run(auth, [("INSERT INTO refresh_tokens (token_hash, family_id, subject, client_id, scope, created_at, "
                "expires_at) VALUES ('h1', 'f1', 'user:1', 'web', 'account bookings', :now, :later)",
                {"now": NOW, "later": NOW + timedelta(days=14)})])

    upgrade("users", users)
    upgrade("auth", auth)

    from booking.auth.issuer import Settings, TokenIssuer
    from booking.auth.models import RefreshToken
    from booking.kit.config import PROJECT_ROOT, load_config
    from booking.users.models import User

    engine = create_db_engine(users)
    with Session(engine) as session:
        [user] = session.scalars(select(User)).all()
        assert (user.email, user.password_hash, user.role) == ("ada@example.com", "$argon2id$hash", "manager")
        assert (user.email_verified, user.credentials_version, user.welcome_sent_at is not None) == (False, 0, True)
    engine.dispose()
    engine = create_db_engine(auth)
    with Session(engine) as session:
        [token] = session.scalars(select(RefreshToken)).all()
        assert (token.family_id, token.subject, token.revoked_at, token.credentials_version) == (
            "f1", "user:1", None, None)
        settings = Settings.from_config(load_config(PROJECT_ROOT / "config" / "test.yaml"))
        TokenIssuer(session, settings).sign_out("user:1", 1)
        session.commit()
        assert session.get(RefreshToken, "h1").revoked_at is not None
    engine.dispose()
