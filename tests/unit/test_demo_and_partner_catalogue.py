"""The demo accounts (`booking run` in the local profile), the operator's commands,
and the partner side of the catalogue on a real search database: who sees which
hotel, and what a manager's edits do to prices and sales."""
import io
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.devstack import demo
from booking.kit.database import create_db_engine
from booking.kit.errors import ValidationFailed
from booking.kit.migrations import upgrade
from booking.search import partner
from booking.search.exceptions import HotelNotFound, RoomTypeExists
from booking.search.models import HotelManager
from booking.users.models import User
from booking.users.passwords import PasswordHashing
from tests.conftest import add_small_catalogue

MONDAY = date(2030, 3, 4)


@pytest.fixture
def config(tmp_path):
    uris = {service: f"sqlite:///{tmp_path}/{service}.db" for service in ("users", "search", "reservations")}
    for service, uri in uris.items():
        upgrade(service, uri)
    add_small_catalogue(uris["search"])
    return {"DB_URIS": uris, "DEMO_PASSWORD": "correct horse battery"}


def rows(config, service, model):
    engine = create_db_engine(config["DB_URIS"][service])
    with Session(engine) as session:
        found = list(session.scalars(select(model)))
        session.expunge_all()
    engine.dispose()
    return found


def test_the_demo_accounts_are_made_once_with_the_password_and_the_manager_runs_three_hotels(config):
    for _ in range(2):  # every `make run` seeds again: nothing twice
        demo.seed_accounts(config, out := io.StringIO())

    users = {user.email: user for user in rows(config, "users", User)}
    assert {email: user.role for email, user in users.items()} == {demo.GUEST: "guest", demo.MANAGER: "manager"}
    assert PasswordHashing().verify(users[demo.GUEST].password_hash, "correct horse battery")
    managed = sorted(grant.hotel_id for grant in rows(config, "search", HotelManager))
    assert managed == [1, 3, 4]  # Le Petit Paris (3) first, then the other Paris hotel (4), then any (1)
    assert "manager@example.com (manager of Le Petit Paris" in out.getvalue()
    from booking.reservations.models import Reservation
    [past] = rows(config, "reservations", Reservation)
    assert (past.user_id, past.status) == (users[demo.GUEST].id, "checked_out") and past.check_out < date.today()


def test_the_operators_commands_make_a_hotel_a_manager_and_an_operator(config):
    demo.seed_accounts(config, io.StringIO())
    hotel_id = demo.create_hotel(config, {"name": "Hotel Nord", "address": "1 Rue", "city": "Lille",
                                          "country": "France", "stars": 3, "timezone": "Europe/Paris"})
    demo.grant_manager(config, hotel_id, demo.GUEST)
    demo.set_role(config, demo.MANAGER, "operator")
    demo.grant_manager(config, hotel_id, demo.MANAGER)  # an operator stays one

    assert {user.email: user.role for user in rows(config, "users", User)} == {
        demo.GUEST: "manager", demo.MANAGER: "operator"}
    with pytest.raises(LookupError):
        demo.set_role(config, "nobody@example.com", "operator")
    with pytest.raises(ValidationFailed):
        demo.create_hotel(config, {"name": "No stars", "address": "1 Rue", "city": "Lille", "country": "France"})


@pytest.fixture
def session(config):
    engine = create_db_engine(config["DB_URIS"]["search"])
    with Session(engine) as session:
        session.add(HotelManager(hotel_id=3, user_id=7))
        session.flush()
        yield session
    engine.dispose()


def caller(user_id, *scopes):
    return SimpleNamespace(user_id=user_id, scopes=frozenset({"partner", *scopes}))


def test_a_manager_sees_only_their_hotels_and_an_operator_every_hotel(session):
    assert [hotel.id for hotel in partner.hotels_of(session, caller(7))] == [3]
    assert partner.managed_hotel(session, caller(7), 3).name == "Le Petit Paris"
    with pytest.raises(HotelNotFound):
        partner.managed_hotel(session, caller(8), 3)  # another manager: as if it did not exist
    assert len(partner.hotels_of(session, caller(8, "admin"))) == 4
    assert partner.managed_hotel(session, caller(8, "admin"), 1).id == 1


def test_a_calendar_edit_prices_and_closes_only_its_nights_room_type_and_plan(session):
    hotel = partner.managed_hotel(session, caller(7), 3)
    base = partner.calendar(hotel, MONDAY, MONDAY + timedelta(days=6), {})
    friday = MONDAY + timedelta(days=4)
    partner.add_calendar_rule(session, hotel, {"room_type": "double", "rate_plan": "*", "start": friday,
                                               "end": friday + timedelta(days=1), "price": Decimal("199.50")})
    partner.add_calendar_rule(session, hotel, {"room_type": "double", "rate_plan": "flexible", "start": MONDAY,
                                               "end": MONDAY, "closed": True, "min_stay": 2})
    edited = partner.calendar(hotel, MONDAY, MONDAY + timedelta(days=6),
                              {"double": {MONDAY.isoformat(): {"sold": 4, "capacity": 6}}})

    [room] = edited["room_types"]
    nights = room["plans"][0]["nights"]
    assert [night["price_minor"] for night in nights] == [15000] * 4 + [19950] * 2 + [15000]
    assert [(night["closed"], night["min_stay"]) for night in nights[:2]] == [(True, 2), (False, 1)]
    assert (room["nights"][0]["sold"], room["nights"][0]["left"], room["nights"][1]["left"]) == (4, 2, 6)
    assert base["room_types"][0]["plans"][0]["nights"][4]["price_minor"] == 15000
    with pytest.raises(RoomTypeExists):
        partner.add_room_type(session, hotel, {"code": "double", "name": "Double", "max_adults": 2, "rooms": 1,
                                               "price": Decimal("100")})
    with pytest.raises(ValidationFailed):  # euros have two decimals
        partner.add_calendar_rule(session, hotel, {"room_type": "double", "rate_plan": "*", "start": MONDAY,
                                                   "end": MONDAY, "price": Decimal("1.005")})


def test_a_database_that_does_not_answer_is_one_line_naming_the_service_the_address_and_what_to_do():
    from booking.kit.migrations import DatabaseUnreachable, migrate_all

    config = {"DB_URIS": {"search": "postgresql://postgres@127.0.0.1:1/booking_search"}}
    with pytest.raises(DatabaseUnreachable) as refusal:
        migrate_all(config, out=io.StringIO())
    message = str(refusal.value)
    assert "\n" not in message and message.startswith("search's database at 127.0.0.1:1 cannot be reached")
    assert "make run DB=postgres" in message
