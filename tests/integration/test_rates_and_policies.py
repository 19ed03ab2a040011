"""Rate plans, the rate calendar, quotes, bookings of several rooms, cancellation
policies that are enforced and changes of a booking, with every service in a real
container on the real broker and the sandbox bank, on SQLite and PostgreSQL."""
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import eventlet
import pytest
from sqlalchemy.orm import Session

from booking.kit.database import create_db_engine
from booking.kit.schemas import included_vat
from booking.search.models import Hotel, RatePlan, RateRule, RoomType
from tests import eventually
from tests.integration.test_accounts import Client, login, register
from tests.integration.test_booking_saga import (
    CHECK_IN,
    DECLINED,
    Bank,
    card,
    room_nights,
    saga_config,  # noqa: F401 (a fixture)
    start_containers,
)

HOTEL_ID = 9
DOUBLE, NONREFUNDABLE, LATE, FAMILY = 10000, 9000, 10000, 16000
CITY_TAX = 250  # 2.50 EUR per adult and night
WEEK = {"check_in": CHECK_IN.isoformat(), "check_out": (CHECK_IN + timedelta(days=7)).isoformat()}
TWO_NIGHTS = {"check_in": CHECK_IN.isoformat(), "check_out": (CHECK_IN + timedelta(days=2)).isoformat()}


def day(offset):
    return CHECK_IN + timedelta(days=offset)


def maison_lumiere():
    """A hotel in Lyon with two doubles (flexible, non-refundable, and a plan whose
    free cancellation ended long ago) and one family room; weekends 20% dearer; a
    closed night, a day closed to arrival, a minimum and a maximum stay."""
    def plan(code, price, hours, penalty="first_night"):
        return RatePlan(code=code, name=code.title(), price_minor=price, free_until_hours=hours, penalty=penalty)

    def rule(name, first, last=None, **terms):
        return RateRule(name=name, starts=first, ends=last or first, every_year=False,
                        closed=terms.pop("closed", False), closed_to_arrival=terms.pop("closed_to_arrival", False),
                        **terms)

    return Hotel(
        id=HOTEL_ID, name="Maison Lumière", address="9 Quai Saint-Antoine, Lyon", city="Lyon", city_key="lyon",
        country="France", stars=4, description="By the Saône.", amenities=["wifi"], timezone="Europe/Paris",
        check_in_time="15:00", check_out_time="11:00", currency="EUR", vat_basis_points=1000,
        city_tax_minor=CITY_TAX,
        room_types=[
            RoomType(code="double", name="Double Room", max_guests=2, max_occupancy=3, room_count=2,
                     price_minor=DOUBLE, currency="EUR", rate_plans=[
                         plan("flexible", DOUBLE, 48), plan("nonrefundable", NONREFUNDABLE, None, "all"),
                         plan("late", LATE, 24 * 60)]),
            RoomType(code="family", name="Family Room", max_guests=2, max_occupancy=4, room_count=1,
                     price_minor=FAMILY, currency="EUR", rate_plans=[plan("flexible", FAMILY, 48)]),
        ],
        rate_rules=[
            RateRule(name="Weekend", starts=date(2000, 1, 1), ends=date(2000, 12, 31), every_year=True,
                     weekdays="45", adjust_percent=20, closed=False, closed_to_arrival=False),
            rule("Closed", day(40), closed=True),
            rule("No arrivals", day(42), closed_to_arrival=True),
            rule("Three nights", day(44), min_stay=3),
            rule("A week at most", day(50), max_stay=7),
        ],
    )


@pytest.fixture
def rated_config(saga_config):  # noqa: F811
    engine = create_db_engine(saga_config["DB_URIS"]["search"])
    with Session(engine) as session, session.begin():
        session.add(maison_lumiere())
    engine.dispose()
    return saga_config


@pytest.fixture
def guest(container_factory, rated_config):
    start_containers(container_factory, rated_config)
    with Client(f"http://{rated_config['WEB_SERVER_ADDRESS']}") as web:
        register(web)
        web.headers["Authorization"] = f"Bearer {login(web)['access_token']}"
        yield web


@pytest.fixture
def bank(rated_config):
    with Bank(rated_config["BANK_URL"]) as session:
        yield session


def nightly(night, base):
    return base * 120 // 100 if night.weekday() in (4, 5) else base


def room(room_type="double", rate_plan="flexible", adults=2, children=()):
    return {"room_type": room_type, "rate_plan": rate_plan, "adults": adults, "children": list(children)}


def book(guest, key, *rooms, card_number="4242424242424242", **stay):
    """Hold and pay: the confirmed reservation."""
    held = guest.post("/api/v1/reservations", json={"hotel_id": HOTEL_ID, **(stay or TWO_NIGHTS),
                                                    "rooms": list(rooms) or [room()]},
                      headers={"Idempotency-Key": key})
    assert held.status_code == 201, held.text
    reservation_id = held.json()["id"]
    paid = guest.post(f"/api/v1/reservations/{reservation_id}/payment", json={"card": card(card_number)},
                      headers={"Idempotency-Key": f"pay-{key}"})
    assert paid.status_code == 200, paid.text
    eventually(lambda: guest.get(f"/api/v1/reservations/{reservation_id}").json()["status"] == "confirmed")
    return guest.get(f"/api/v1/reservations/{reservation_id}").json()


def minor(money):
    return int(money["amount"].replace(".", ""))


def test_a_quote_prices_each_night_from_the_calendar_with_taxes_and_the_policy(guest):
    answer = guest.post("/api/v1/quotes", json={"hotel_id": HOTEL_ID, **WEEK, "rooms": [
        room(children=[6]), room("family", adults=2, children=[3, 9])]})

    assert answer.status_code == 200, answer.text
    quote = answer.json()
    double, family = quote["rooms"]
    nights = [day(n) for n in range(7)]
    assert [(n["date"], minor(n["price"])) for n in double["nights"]] == [
        (night.isoformat(), nightly(night, DOUBLE)) for night in nights]
    assert len({n["price"]["amount"] for n in double["nights"]}) == 2  # weekdays and a weekend
    room_total = sum(nightly(night, DOUBLE) + nightly(night, FAMILY) for night in nights)
    assert minor(quote["room_total"]) == room_total
    assert minor(quote["vat"]) == included_vat(room_total, 1000) and quote["vat_rate"] == "10.00"
    assert minor(quote["city_tax"]) == CITY_TAX * 4 * 7  # adults only
    assert minor(quote["total"]) == room_total + CITY_TAX * 4 * 7
    arrival = datetime.combine(CHECK_IN, time(15), ZoneInfo("Europe/Paris"))
    policy = double["cancellation_policy"]
    assert datetime.fromisoformat(policy["deadline"]) == arrival - timedelta(hours=48)
    assert datetime.fromisoformat(policy["deadline"]).utcoffset() == timedelta(0)
    assert datetime.fromisoformat(policy["deadline_local"]) == arrival - timedelta(hours=48)
    assert minor(policy["penalty"]) == nightly(CHECK_IN, DOUBLE)
    assert policy["description"].startswith("Free cancellation until ")
    assert "(Europe/Paris time); after that the first night" in policy["description"]

    hotel = guest.get(f"/api/v1/hotels/{HOTEL_ID}", params={**WEEK, "guests": 2}).json()
    plans = {plan["code"]: plan for plan in hotel["room_types"][0]["rate_plans"]}
    assert set(plans) == {"flexible", "nonrefundable", "late"}
    assert plans["flexible"]["stay_price"] == double["price"]
    assert plans["nonrefundable"]["cancellation_policy"]["description"].startswith("Non-refundable")
    found = guest.get("/api/v1/hotels", params={"city": "Lyon", **WEEK, "guests": 2}).json()["items"]
    assert minor(found[0]["stay_price"]) == sum(nightly(night, NONREFUNDABLE) for night in nights)


@pytest.mark.parametrize("stay, rooms, field", [
    ({"check_in": day(39), "check_out": day(41)}, [room()], "check_in"),  # a closed night
    ({"check_in": day(42), "check_out": day(44)}, [room()], "check_in"),  # closed to arrival
    ({"check_in": day(44), "check_out": day(46)}, [room()], "check_out"),  # three nights at least
    ({"check_in": day(50), "check_out": day(58)}, [room()], "check_out"),  # a week at most
    ({"check_in": day(0), "check_out": day(2)}, [room(adults=3)], "rooms.0.adults"),
    ({"check_in": day(0), "check_out": day(2)}, [room(adults=2, children=[4, 8])], "rooms.0.children"),
    ({"check_in": day(0), "check_out": day(2)}, [room(rate_plan="breakfast")], "rooms.0.rate_plan"),
    ({"check_in": day(0), "check_out": day(2)}, [room(room_type="penthouse")], "rooms.0.room_type"),
])
def test_what_the_calendar_or_the_room_does_not_allow_is_a_typed_422_and_holds_nothing(
        guest, rated_config, stay, rooms, field):
    body = {"hotel_id": HOTEL_ID, "check_in": stay["check_in"].isoformat(),
            "check_out": stay["check_out"].isoformat(), "rooms": rooms}
    for answer in (guest.post("/api/v1/quotes", json=body),
                   guest.post("/api/v1/reservations", json=body, headers={"Idempotency-Key": "refused"})):
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "NOT_SELLABLE" and field in answer.json()["details"]
    assert all(held == 0 for _, held, _ in room_nights(rated_config))


def test_a_child_older_than_17_is_not_a_valid_request(guest):
    answer = guest.post("/api/v1/quotes", json={"hotel_id": HOTEL_ID, **TWO_NIGHTS,
                                                "rooms": [room(children=[18])]})
    assert answer.status_code == 400 and "rooms" in answer.json()["details"]


def test_two_rooms_are_held_together_or_not_at_all_and_keep_the_price_they_were_quoted(guest, rated_config):
    family = book(guest, "family", room(children=[5]), room("family", children=[2, 7]))
    assert [line["room_type"] for line in family["booked_rooms"]] == ["double", "family"]
    assert family["rooms"] == 2 and family["guests"] == 7
    stay = [day(0), day(1)]
    expected = sum(nightly(n, DOUBLE) + nightly(n, FAMILY) for n in stay) + CITY_TAX * 4 * 2
    assert minor(family["total"]) == expected

    # the family room is taken: a double and a family room together are refused, the double not held
    refused = guest.post("/api/v1/reservations", json={"hotel_id": HOTEL_ID, **TWO_NIGHTS,
                                                       "rooms": [room(), room("family")]},
                         headers={"Idempotency-Key": "both-or-none"})
    assert (refused.status_code, refused.json()["error"]) == (409, "NO_ROOM_LEFT")
    held = {(night, held) for night, held, capacity in room_nights(rated_config) if capacity == 2}
    assert held == {(day(0), 1), (day(1), 1)}

    # the request from before rate plans keeps its meaning: one room, flexible plan
    legacy = guest.post("/api/v1/reservations", json={"hotel_id": HOTEL_ID, "room_type": "double", "guests": 2,
                                                      **TWO_NIGHTS}, headers={"Idempotency-Key": "legacy"})
    assert legacy.status_code == 201, legacy.text
    [line] = legacy.json()["booked_rooms"]
    assert (line["rate_plan"], line["adults"], legacy.json()["rooms"]) == ("flexible", 2, 1)


def test_cancelling_refunds_what_the_preview_said_and_money_adds_up_at_the_bank(guest, bank):
    free = book(guest, "free")
    late = book(guest, "late", room(rate_plan="late"), **{"check_in": day(3).isoformat(),
                                                           "check_out": day(5).isoformat()})
    strict = book(guest, "strict", room(rate_plan="nonrefundable", adults=1),
                  **{"check_in": day(6).isoformat(), "check_out": day(8).isoformat()})
    two = book(guest, "two", room(adults=1), room("family", adults=1),
               **{"check_in": day(10).isoformat(), "check_out": day(12).isoformat()})

    def cancel(reservation, room_line=None):
        query = {"room": room_line} if room_line else {}
        preview = guest.get(f"/api/v1/reservations/{reservation['id']}/cancellation", params=query).json()
        answer = guest.post(f"/api/v1/reservations/{reservation['id']}/cancel", json=query)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["cancellation"]["refund"], answer.json()["cancellation"]["penalty"]) == (
            preview["refund"], preview["penalty"])
        return preview

    free_terms = cancel(free)
    assert (free_terms["refund"], minor(free_terms["penalty"]), free_terms["free"]) == (free["total"], 0, True)
    late_terms = cancel(late)
    assert minor(late_terms["penalty"]) == nightly(day(3), LATE)
    assert minor(late_terms["refund"]) == minor(late["total"]) - nightly(day(3), LATE)
    strict_terms = cancel(strict)
    assert (minor(strict_terms["refund"]), strict_terms["penalty"]) == (0, strict["total"])
    family_line = two["booked_rooms"][1]
    assert minor(cancel(two, room_line=2)["refund"]) == minor(family_line["total"])
    remaining = guest.get(f"/api/v1/reservations/{two['id']}").json()
    assert (remaining["status"], remaining["rooms"]) == ("confirmed", 1)
    assert minor(remaining["total"]) == minor(two["total"]) - minor(family_line["total"])
    # cancelling the room again changes nothing
    again = guest.post(f"/api/v1/reservations/{two['id']}/cancel", json={"room": 2})
    assert again.status_code == 200 and again.json()["rooms"] == 1

    def books_balance():
        reservations = guest.get("/api/v1/reservations").json()["items"]
        owed = sum(minor(r["kept"]) + (minor(r["total"]) if r["status"] == "confirmed" else 0)
                   for r in reservations if r["payment_id"])
        granted = sum(minor(r["refund"]) for r in reservations)
        balance = bank.balance()
        assert balance["net"] == owed
        assert balance["refunded"] == granted
    eventually(books_balance)
    eventlet.sleep(1)  # a late or repeated refund would show now
    books_balance()


def test_changing_the_dates_holds_the_new_nights_first_and_settles_the_difference(guest, bank, rated_config):
    booking = book(guest, "change-me")  # 2 nights from CHECK_IN
    longer = {"check_in": day(1).isoformat(), "check_out": day(4).isoformat()}

    needs_card = guest.post(f"/api/v1/reservations/{booking['id']}/change", json=longer,
                            headers={"Idempotency-Key": "longer"})
    assert (needs_card.status_code, needs_card.json()["error"]) == (402, "CARD_NEEDED")

    declined = guest.post(f"/api/v1/reservations/{booking['id']}/change", json={**longer, "card": card(DECLINED)},
                          headers={"Idempotency-Key": "declined"})
    assert declined.status_code == 402 and declined.json()["error"] == "PAYMENT_DECLINED"
    unchanged = guest.get(f"/api/v1/reservations/{booking['id']}").json()
    assert (unchanged["check_in"], unchanged["check_out"], unchanged["total"]) == (
        booking["check_in"], booking["check_out"], booking["total"])
    assert sorted((night, held) for night, held, capacity in room_nights(rated_config) if held) == [
        (day(0), 1), (day(1), 1)]

    changed = [guest.post(f"/api/v1/reservations/{booking['id']}/change", json={**longer, "card": card()},
                          headers={"Idempotency-Key": "longer-paid"}) for _ in range(3)]
    assert [c.status_code for c in changed] == [200, 200, 200], changed[0].text
    after = changed[0].json()
    assert {c.json()["change"]["id"] for c in changed} == {after["change"]["id"]}
    new_total = sum(nightly(day(n), DOUBLE) for n in (1, 2, 3)) + CITY_TAX * 2 * 3
    assert (after["check_in"], after["check_out"], minor(after["total"])) == (
        longer["check_in"], longer["check_out"], new_total)
    assert minor(after["change"]["difference"]) == new_total - minor(booking["total"])
    assert sorted((night, held) for night, held, capacity in room_nights(rated_config) if held) == [
        (day(1), 1), (day(2), 1), (day(3), 1)]
    # the booking, the declined try, and the difference once
    assert [c["status"] for c in bank.charges(booking["id"])] == ["succeeded", "failed", "succeeded"]

    shorter = guest.post(f"/api/v1/reservations/{booking['id']}/change",
                         json={"check_in": day(1).isoformat(), "check_out": day(2).isoformat()},
                         headers={"Idempotency-Key": "shorter"})
    assert shorter.status_code == 200, shorter.text
    refund = -minor(shorter.json()["change"]["difference"])
    assert refund == new_total - nightly(day(1), DOUBLE) - CITY_TAX * 2
    eventually(lambda: bank.balance()["net"] == minor(shorter.json()["total"]))

    nonrefundable = book(guest, "stuck", room(rate_plan="nonrefundable"),
                         **{"check_in": day(20).isoformat(), "check_out": day(21).isoformat()})
    refused = guest.post(f"/api/v1/reservations/{nonrefundable['id']}/change", json=longer,
                         headers={"Idempotency-Key": "stuck"})
    assert (refused.status_code, refused.json()["details"]["reason"]) == (409, "nonrefundable")
    to_strict = guest.post(f"/api/v1/reservations/{booking['id']}/change",
                           json={"rooms": [room(rate_plan="nonrefundable")]}, headers={"Idempotency-Key": "strict"})
    assert (to_strict.status_code, to_strict.json()["details"]["reason"]) == (409, "nonrefundable")


def test_a_hundred_concurrent_holds_and_changes_of_several_rooms_never_exceed_capacity(guest, rated_config):
    confirmed = [book(guest, f"base-{n}", **{"check_in": day(20 + 3 * n).isoformat(),
                                            "check_out": day(21 + 3 * n).isoformat()}) for n in range(2)]
    pool = eventlet.GreenPool(25)

    def attempt(n):
        if n % 5 == 0:  # a change of a confirmed booking to nights others want too
            booking = confirmed[n % 2]
            return guest.post(f"/api/v1/reservations/{booking['id']}/change",
                              json={"check_in": day(30).isoformat(), "check_out": day(31).isoformat(),
                                    "card": card()}, headers={"Idempotency-Key": f"move-{n}"})
        rooms = [room(adults=1), room("family", adults=1)][:1 + n % 2]
        return guest.post("/api/v1/reservations", json={"hotel_id": HOTEL_ID, "check_in": day(30).isoformat(),
                                                        "check_out": day(32).isoformat(), "rooms": rooms},
                          headers={"Idempotency-Key": f"race-{n}"})

    answers = list(pool.imap(attempt, range(100)))
    assert {a.status_code for a in answers} <= {200, 201, 409}, {a.text for a in answers if a.status_code >= 400}
    assert any(a.status_code == 409 and a.json()["error"] == "NO_ROOM_LEFT" for a in answers)
    assert all(held <= capacity for _, held, capacity in room_nights(rated_config))
    # what the bookings say they hold on the contested night is what the hotel has, at most
    taken = {}
    for reservation in guest.get("/api/v1/reservations").json()["items"]:
        for line in reservation["booked_rooms"]:
            if reservation["status"] in ("held", "confirmed") and line["status"] == "active" \
                    and line["check_in"] <= day(30).isoformat() < line["check_out"]:
                taken[line["room_type"]] = taken.get(line["room_type"], 0) + 1
    assert taken["double"] == 2 and taken.get("family", 0) <= 1
    held = {capacity: held for night, held, capacity in room_nights(rated_config) if night == day(30)}
    # the family room is the hotel's only one (no row for it if nobody ever held it that night)
    assert (held[2], held.get(1, 0)) == (taken["double"], taken.get("family", 0))
