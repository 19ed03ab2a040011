"""The partner side's rules on real databases: a manager's calendar edits (a later
rule lifts an earlier restriction), a room type's new number of rooms (refused below
what is sold, and never leaving a night over capacity however holds race it, on
SQLite and on PostgreSQL), and a stay's steps (check-in, check-out, no-show)."""
from datetime import UTC, date, datetime, timedelta

import eventlet
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from booking.kit.database import create_db_engine
from booking.kit.migrations import upgrade
from booking.reservations import holds, stays
from booking.reservations.exceptions import NoRoomLeft, NotAllowedNow, RoomsSold
from booking.reservations.models import RoomNight
from booking.search import pricing
from tests.conftest import database_uri
from tests.unit.test_holds import HOTEL, STAY, reservation

NIGHT = date(2030, 3, 1)


def rule(**fields):
    values = {"room_type": None, "rate_plan": None, "starts": NIGHT, "ends": NIGHT + timedelta(days=6),
              "every_year": False, "days": None, "price_minor": None, "adjust_percent": None, "adjust_minor": None,
              "closed": None, "closed_to_arrival": None, "min_stay": None, "max_stay": None}
    return pricing.Rule(**{**values, **fields})


def test_a_later_rule_opens_a_night_an_earlier_one_closed_and_sets_another_minimum_stay():
    season = rule(closed=True, min_stay=3)
    reopened = rule(starts=NIGHT + timedelta(days=1), ends=NIGHT + timedelta(days=1), closed=False, min_stay=1)
    price_only = rule(price_minor=9000)  # says nothing of restrictions: changes none

    assert pricing.said([season, price_only], NIGHT, "closed") is True
    assert pricing.said([season, reopened, price_only], NIGHT + timedelta(days=1), "closed") is False
    stay = (NIGHT + timedelta(days=1), NIGHT + timedelta(days=2))
    assert pricing.refusal([season, reopened, price_only], *stay) is None
    assert pricing.refusal([season, reopened], NIGHT + timedelta(days=1), NIGHT + timedelta(days=3))[0] == "check_in"
    assert pricing.refusal([season], NIGHT, NIGHT + timedelta(days=1))[0] == "check_in"
    assert pricing.said([season, reopened], NIGHT + timedelta(days=1), "min_stay") == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    uri = database_uri(request, tmp_path, "reservations")
    upgrade("reservations", uri)
    engine = create_db_engine(uri, pool_size=20) if uri.startswith("postgresql") else create_db_engine(uri)
    yield engine
    engine.dispose()


def take(engine, nights=STAY, capacity=4):
    with Session(engine) as session, session.begin():
        holds.take_rooms(session, HOTEL, "double", nights, capacity)


def resize(engine, rooms, today=STAY[0]):
    with Session(engine) as session, session.begin():
        holds.set_capacity(session, HOTEL, "double", rooms, today)


def nights(engine):
    with Session(engine) as session:
        return {row.night: (row.held, row.capacity) for row in session.scalars(select(RoomNight))}


def test_fewer_rooms_than_are_sold_are_refused_with_those_nights_and_change_nothing(engine):
    take(engine, STAY[:2])
    take(engine, STAY[:1])

    with pytest.raises(RoomsSold) as refusal:
        resize(engine, 1)
    assert refusal.value.details["nights"] == [{"date": STAY[0].isoformat(), "sold": 2}]
    assert nights(engine) == {STAY[0]: (2, 4), STAY[1]: (1, 4)}

    resize(engine, 2)
    assert nights(engine) == {STAY[0]: (2, 2), STAY[1]: (1, 2)}
    with pytest.raises(NoRoomLeft):
        take(engine, STAY[:1], capacity=4)  # a quote still says 4: the manager's 2 decides
    take(engine, STAY[1:], capacity=4)
    assert nights(engine) == {STAY[0]: (2, 2), STAY[1]: (2, 2), STAY[2]: (1, 2)}


def test_a_night_made_after_a_resize_takes_the_new_count_not_the_quotes(engine):
    resize(engine, 1)
    take(engine, STAY, capacity=4)
    with pytest.raises(NoRoomLeft):
        take(engine, STAY, capacity=4)
    assert set(nights(engine).values()) == {(1, 1)}


def test_a_reduction_racing_holds_for_the_last_rooms_never_leaves_a_night_over_capacity(engine):
    """Twenty holds of the last rooms and reductions from 6 to 2 rooms, all at once:
    whatever order they land in, no night holds more than its capacity, and a
    reduction is refused only when more were sold."""
    outcomes = []

    def hold():
        for attempt in (1, 2, 3):  # again, as the service does, when a racing first hold made the same night
            try:
                take(engine, STAY, capacity=6)
                outcomes.append("held")
                return
            except NoRoomLeft:
                outcomes.append("full")
                return
            except IntegrityError:
                if attempt == 3:
                    outcomes.append("lost a race three times")

    def reduce(rooms):
        try:
            resize(engine, rooms)
            outcomes.append(f"resized to {rooms}")
        except RoomsSold:
            outcomes.append(f"refused {rooms}")

    pool = eventlet.GreenPool(30)
    for n in range(20):
        pool.spawn(hold)
        if n in (3, 9, 15):
            pool.spawn(reduce, {3: 4, 9: 3, 15: 2}[n])
    pool.waitall()

    rows = nights(engine)
    assert all(held <= capacity for held, capacity in rows.values()), rows
    assert len({held for held, _ in rows.values()}) == 1  # every stay took all three nights or none
    held = next(iter(rows.values()))[0]
    assert outcomes.count("held") == held and 2 <= held <= 6, outcomes
    assert len(outcomes) == 23, outcomes


def guest_stay(status="confirmed", paid=True):
    stay = reservation(status=status)
    stay.payment_id = "pay_1" if paid else None
    stay.timezone = "Europe/Paris"
    return stay


def test_a_stay_is_checked_in_from_its_day_of_arrival_in_the_hotels_time_and_once():
    stay = guest_stay()
    eve = datetime(2030, 2, 28, 22, 59, tzinfo=UTC)  # 23:59 in Paris
    with pytest.raises(NotAllowedNow) as refusal:
        stays.check_step(stay, "check_in", eve)
    assert refusal.value.details["reason"] == "too_early"
    assert stays.check_step(stay, "check_in", eve + timedelta(minutes=2)) is None  # 00:01 in Paris
    stay.status = "checked_in"
    assert stays.check_step(stay, "check_in", eve + timedelta(hours=1)) == "done"
    assert stays.check_step(stay, "check_out", eve + timedelta(hours=1)) is None
    with pytest.raises(NotAllowedNow) as refusal:
        stays.check_step(guest_stay(status="held"), "no_show", eve + timedelta(days=1))
    assert refusal.value.details["reason"] == "not_confirmed"


def test_a_no_show_keeps_the_policys_penalty_and_refunds_the_rest():
    stay = guest_stay()  # 3 nights at 150.00, first night kept after the deadline
    stay.lines[0].deadline = datetime(2030, 2, 27, 14, tzinfo=UTC)
    figures = stays.no_show_figures(stay)
    assert (figures["refund_minor"], figures["kept_minor"]) == (30000, 15000)
    unpaid = stays.no_show_figures(guest_stay(paid=False))
    assert (unpaid["refund_minor"], unpaid["kept_minor"]) == (0, 0)


def test_a_hotels_list_finds_a_guest_by_reference_or_part_of_the_name():
    item = {"id": "BKAAAA0001", "guest_name": "Zoë Ångström", "guest_email": "zoe@example.com"}
    assert all(stays.matches(item, words) for words in ("bkaaaa", "ångström", "ZOË", "zoe@", None))
    assert not stays.matches(item, "grace")
