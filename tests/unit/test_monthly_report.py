"""A hotel's month in figures (booking/reservations/monthly.py) on a migrated SQLite
file holding reservations written by hand, each figure worked out in the comments;
and the `monthly_report` PDF rendered from them."""
import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from booking.kit.errors import ValidationFailed
from booking.reports import rendering
from booking.reservations.models import BookedRoom, BookingChange, Reservation, RoomNight
from booking.reservations.monthly import divided, figures_csv, month_figures, occupancy
from tests.unit.test_holds import migrated_engine
from tests.unit.test_reports import check_structure_and_picture, rendered, text_of

HOTEL = 3
JANUARY = date(2027, 1, 1)
CAPACITIES = {"double": {"name": "Double Room", "rooms": 2}, "single": {"name": "Single Room", "rooms": 3}}
NAMES = {"double": "Double Room", "single": "Single Room", "suite": "Suite"}
PAID = "pay_0123456789abcdefghij"
WHEN = datetime(2026, 12, 1, tzinfo=UTC)


def room(line, room_type, check_in, prices, status="active", refund=None, kept=None):
    """A booked room from `check_in` for one night per price in `prices` (minor units)."""
    nights = [{"date": (check_in + timedelta(days=n)).isoformat(), "price_minor": price}
              for n, price in enumerate(prices)]
    return BookedRoom(line=line, room_type=room_type, room_name=NAMES[room_type], rate_plan="flexible",
                      rate_plan_name="Flexible", adults=1, children=[], check_in=check_in,
                      check_out=check_in + timedelta(days=len(prices)), nights=nights, price_minor=sum(prices),
                      city_tax_minor=0, total_minor=sum(prices),
                      policy={"free_until_hours": 48, "penalty": "first_night", "penalty_percent": None},
                      deadline=None, penalty_minor=prices[0], status=status, refund_minor=refund, kept_minor=kept)


def reservation(reference, status, lines, payment_id=PAID, hotel_id=HOTEL, refund=0, kept=0, currency="EUR"):
    first = next((line for line in lines if line.status == "active"), lines[0])
    return Reservation(
        id=reference, user_id=7, idempotency_key=reference, request_hash="0" * 64, hotel_id=hotel_id,
        hotel_name="Le Petit Paris", hotel_address="3 Main Street, Paris", room_type=first.room_type,
        room_name=first.room_name, check_in=first.check_in, check_out=first.check_out, guests=1,
        rooms=len(lines), nightly_price_minor=first.price_minor // len(first.nights),
        total_minor=sum(line.total_minor for line in lines if line.status == "active"), currency=currency,
        kept_minor=kept, refund_minor=refund, status=status, expires_at=WHEN, created_at=WHEN, updated_at=WHEN,
        payment_id=payment_id, lines=lines)


def the_month():
    """January 2027 at hotel 3 (doubles: 2 rooms, but 4 on the 10th by its room_nights
    row; singles: 3), and what each booking adds."""
    d = lambda day: date(2027, 1, day)  # noqa: E731
    return [
        # A: doubles sold on the 10th and 11th, 150.00 + 160.00
        reservation("BKA", "confirmed", [room(1, "double", d(10), [15000, 16000])]),
        # B: began in December: only its night of the 1st (90.00) is January's; nothing else
        reservation("BKB", "checked_out", [room(1, "single", date(2026, 12, 30), [9000, 9000, 9000])]),
        # C: runs into February: only its night of the 31st (150.00)
        reservation("BKC", "checked_in", [room(1, "double", d(31), [15000, 15000])]),
        # D: cancelled once paid: a single cancelled, 90.00 kept, 90.00 refunded
        reservation("BKD", "cancelled", [room(1, "single", d(5), [9000, 9000], refund=9000, kept=9000)],
                    refund=9000, kept=9000),
        # E: an unpaid hold the guest dropped: no cancellation
        reservation("BKE", "cancelled", [room(1, "single", d(8), [9000])], payment_id=None),
        # F: a no-show: its penalty (150.00, on no room of its own) kept, 150.00 refunded, nothing sold
        reservation("BKF", "no_show", [room(1, "double", d(20), [15000, 15000])], refund=15000, kept=15000),
        # G: a double sold on the 15th and 16th (300.00); its single cancelled alone, free: 180.00 refunded
        reservation("BKG", "confirmed", [room(1, "double", d(15), [15000, 15000]),
                                         room(2, "single", d(15), [9000, 9000], "cancelled", 18000, 0)],
                    refund=18000),
        # H: changed to a cheaper double (300.00 instead of 400.00): 100.00 refunded, what is sold is 300.00
        reservation("BKH", "confirmed", [room(1, "double", d(25), [20000, 20000], "changed"),
                                         room(2, "double", d(25), [15000, 15000])], refund=10000),
        # I: a single on the 3rd (90.00) with a 20.00 goodwill refund: 70.00 of revenue
        reservation("BKI", "confirmed", [room(1, "single", d(3), [9000])], refund=2000),
        # J, K, L, M: a hold, an expired hold, another hotel, February: none of January
        reservation("BKJ", "held", [room(1, "double", d(10), [15000])], payment_id=None),
        reservation("BKK", "expired", [room(1, "double", d(11), [15000])], payment_id=None),
        reservation("BKL", "confirmed", [room(1, "double", d(10), [15000])], hotel_id=4),
        reservation("BKM", "confirmed", [room(1, "double", date(2027, 2, 1), [15000])]),
        # N: a suite, which search no longer lists: its night of the 12th (500.00), 1 room that night
        reservation("BKN", "confirmed", [room(1, "suite", d(12), [50000])]),
        BookingChange(id="chg_h", reservation_id="BKH", idempotency_key="k", request_hash="0" * 64, status="done",
                      taken=[], released=[], quote={}, difference_minor=-10000, payment_id=None, created_at=WHEN),
        RoomNight(hotel_id=HOTEL, room_type="double", night=d(10), capacity=4, held=3),
        RoomNight(hotel_id=HOTEL, room_type="suite", night=d(12), capacity=1, held=1),
        RoomNight(hotel_id=HOTEL, room_type="single", night=d(5), capacity=3, held=0),
        RoomNight(hotel_id=4, room_type="double", night=d(10), capacity=9, held=1),
    ]


@pytest.fixture
def engine(tmp_path):
    engine = migrated_engine(tmp_path, "reservations")
    yield engine
    engine.dispose()


@pytest.fixture
def figures(engine):
    with Session(engine) as session, session.begin():
        for row in the_month():  # one by one: the change after its reservation
            session.add(row)
            session.flush()
    with Session(engine) as session:
        return month_figures(session, HOTEL, JANUARY, CAPACITIES)


def day(figures, number, room_type=None):
    days = figures["days"] if room_type is None else next(
        kind for kind in figures["room_types"] if kind["code"] == room_type)["days"]
    return days[number - 1]


def test_the_month_adds_up_sales_cancellations_and_no_shows(figures):
    # available: doubles 2 x 31 + 2 more on the 10th = 64, singles 3 x 31 = 93, the suite 1
    # sold: A 2 + C 1 + G 2 + H 2 doubles, B 1 + I 1 singles, N 1 suite = 10
    # revenue: doubles 310.00 + 150.00 + 300.00 + 300.00 = 1060.00, singles 90.00 + 70.00, suite 500.00
    assert figures["totals"] == {
        "rooms_available": 158, "rooms_sold": 10,
        "occupancy": 0.0633,              # 10 / 158 = 0.06329
        "adr_minor": 17200,               # 172000 / 10
        "revpar_minor": 1089,             # 172000 / 158 = 1088.61
        "revenue_minor": 172000,
        "refunds_minor": 54000,           # D 9000 + F 15000 + G 18000 + H 10000 + I 2000
        "penalties_minor": 24000,         # D 9000 + F 15000
        "cancellations": 2,               # D's single, G's single
        "no_shows": 1,                    # F's double
    }
    assert {key: figures[key] for key in ("hotel_id", "month", "currency")} == {
        "hotel_id": 3, "month": "2027-01", "currency": "EUR"}


def test_each_room_type_has_its_share(figures):
    by_code = {kind["code"]: {key: value for key, value in kind.items() if key != "days"}
               for kind in figures["room_types"]}
    assert list(by_code) == ["double", "single", "suite"]  # capacities' order, then the suite search dropped
    assert by_code["double"] == {
        "code": "double", "name": "Double Room", "rooms_available": 64, "rooms_sold": 7,
        "occupancy": 0.1094,          # 7 / 64 = 0.109375
        "adr_minor": 15143,           # 106000 / 7 = 15142.86
        "revpar_minor": 1656,         # 106000 / 64 = 1656.25
        "revenue_minor": 106000, "refunds_minor": 25000, "penalties_minor": 15000,  # F and H; F
        "cancellations": 0, "no_shows": 1}
    assert by_code["single"] == {
        "code": "single", "name": "Single Room", "rooms_available": 93, "rooms_sold": 2,
        "occupancy": 0.0215,          # 2 / 93 = 0.021505
        "adr_minor": 8000, "revpar_minor": 172,  # 16000 / 93 = 172.04
        "revenue_minor": 16000, "refunds_minor": 29000, "penalties_minor": 9000,  # D, G's single, I; D
        "cancellations": 2, "no_shows": 0}
    assert by_code["suite"] == {
        "code": "suite", "name": "Suite", "rooms_available": 1, "rooms_sold": 1, "occupancy": 1.0,
        "adr_minor": 50000, "revpar_minor": 50000, "revenue_minor": 50000, "refunds_minor": 0,
        "penalties_minor": 0, "cancellations": 0, "no_shows": 0}
    for key in ("rooms_available", "rooms_sold", "revenue_minor", "refunds_minor", "penalties_minor",
                "cancellations", "no_shows"):
        assert sum(kind[key] for kind in by_code.values()) == figures["totals"][key], key


def test_each_night_has_its_rooms_and_revenue(figures):
    assert len(figures["days"]) == 31
    assert [d["date"] for d in figures["days"][:2]] == ["2027-01-01", "2027-01-02"]
    # the 1st: B's single from December; 2 + 3 rooms
    assert day(figures, 1) == {"date": "2027-01-01", "rooms_available": 5, "rooms_sold": 1, "occupancy": 0.2,
                               "revenue_minor": 9000}
    # the 3rd: I's single less its goodwill refund
    assert day(figures, 3)["revenue_minor"] == 7000
    # the 10th: 4 doubles that night, A's double sold (J held, L elsewhere): 1 / 7 = 0.142857
    assert day(figures, 10) == {"date": "2027-01-10", "rooms_available": 7, "rooms_sold": 1, "occupancy": 0.1429,
                                "revenue_minor": 15000}
    assert day(figures, 10, "double") == {"date": "2027-01-10", "rooms_available": 4, "rooms_sold": 1,
                                          "occupancy": 0.25, "revenue_minor": 15000}
    assert day(figures, 11)["revenue_minor"] == 16000
    # the 12th: the suite, 1 room that night only: 2 + 3 + 1 available
    assert day(figures, 12) == {"date": "2027-01-12", "rooms_available": 6, "rooms_sold": 1, "occupancy": 0.1667,
                                "revenue_minor": 50000}
    assert day(figures, 13, "suite")["rooms_available"] == 0
    # the 5th: D was cancelled; the 20th: F did not come; the 25th: H's new double only
    assert day(figures, 5)["rooms_sold"] == day(figures, 20)["rooms_sold"] == 0
    assert day(figures, 25, "double") == {"date": "2027-01-25", "rooms_available": 2, "rooms_sold": 1,
                                          "occupancy": 0.5, "revenue_minor": 15000}
    assert day(figures, 31)["revenue_minor"] == 15000
    assert sum(d["revenue_minor"] for d in figures["days"]) == figures["totals"]["revenue_minor"]
    assert sum(d["rooms_sold"] for d in figures["days"]) == figures["totals"]["rooms_sold"]


def test_the_csv_has_a_row_per_night_and_room_type_then_the_month(figures):
    rows = list(csv.reader(io.StringIO(figures_csv(figures))))
    assert rows[0] == ["period", "room_type", "room_type_name", "rooms_available", "rooms_sold", "occupancy", "adr",
                       "revpar", "revenue", "refunds", "penalties", "cancellations", "no_shows", "currency"]
    assert len(rows) == 1 + 31 * 4 + 4  # 3 room types and all of them, a night and the month
    tenth = [row for row in rows if row[0] == "2027-01-10"]
    assert tenth == [
        ["2027-01-10", "double", "Double Room", "4", "1", "0.2500", "150.00", "37.50", "150.00", "", "", "", "",
         "EUR"],
        ["2027-01-10", "single", "Single Room", "3", "0", "0.0000", "0.00", "0.00", "0.00", "", "", "", "", "EUR"],
        ["2027-01-10", "suite", "Suite", "0", "0", "0.0000", "0.00", "0.00", "0.00", "", "", "", "", "EUR"],
        ["2027-01-10", "", "All room types", "7", "1", "0.1429", "150.00", "21.43", "150.00", "", "", "", "", "EUR"],
    ]
    assert rows[-4][:3] == ["2027-01", "double", "Double Room"]
    assert rows[-3] == ["2027-01", "single", "Single Room", "93", "2", "0.0215", "80.00", "1.72", "160.00",
                        "290.00", "90.00", "2", "0", "EUR"]
    assert rows[-1] == ["2027-01", "", "All room types", "158", "10", "0.0633", "172.00", "10.89", "1720.00",
                        "540.00", "240.00", "2", "1", "EUR"]


def test_an_empty_month_is_all_zeros_in_the_hotels_currency(engine):
    with Session(engine) as session:
        figures = month_figures(session, HOTEL, date(2027, 2, 1), CAPACITIES, currency="JPY")
    assert len(figures["days"]) == 28
    assert figures["currency"] == "JPY"
    assert figures["totals"] == {"rooms_available": 140, "rooms_sold": 0, "occupancy": 0.0, "adr_minor": 0,
                                 "revpar_minor": 0, "revenue_minor": 0, "refunds_minor": 0, "penalties_minor": 0,
                                 "cancellations": 0, "no_shows": 0}
    assert figures_csv(figures).splitlines()[-1] == "2027-02,,All room types,140,0,0.0000,0,0,0,0,0,0,0,JPY"


def test_nothing_available_divides_to_zero_and_halves_round_up():
    assert occupancy(3, 0) == 0.0 and divided(100, 0) == 0
    assert divided(5, 2) == 3 and divided(7, 2) == 4 and divided(-5, 2) == -3
    assert occupancy(1, 8) == 0.125 and occupancy(1, 160_000) == 0.0  # 0.00000625
    assert occupancy(1, 20_000) == 0.0001  # 0.00005 rounds up


def test_a_month_of_thousands_of_bookings_takes_four_queries(engine):
    # 100 rooms, 3000 two-night stays over January and its edges
    with Session(engine) as session, session.begin():
        session.add_all(reservation(f"BK{n:08d}", "confirmed",
                                    [room(1, "double", date(2026, 12, 30) + timedelta(days=n % 34), [10000, 12000])])
                        for n in range(3000))
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with Session(engine) as session:
        figures = month_figures(session, HOTEL, JANUARY, {"double": {"name": "Double Room", "rooms": 100}})
    assert len(statements) == 4  # however many bookings: the month's cost does not grow with them
    assert figures["totals"]["rooms_sold"] == sum(d["rooms_sold"] for d in figures["days"]) > 5000


def test_the_monthly_report_prints_the_hotel_the_month_and_its_figures(figures):
    document, pdf, path = rendered("monthly_report", {**figures, "hotel_name": "Le Petit Paris",
                                                      "hotel_city": "Paris"})
    text = text_of(pdf)
    for words in ["Monthly report", "Le Petit Paris", "January 2027", "Paris", "6.3%", "172.00 EUR",
                  "10.89 EUR", "1720.00 EUR", "540.00 EUR", "240.00 EUR", "Double Room", "Single Room", "Suite",
                  "Sun 31", "158", "Daily occupancy"]:
        assert words in text, words
    assert document["filename"] == "monthly-report-3-2027-01.pdf"
    assert document["pages"] >= 2
    check_structure_and_picture(path)


def test_the_monthly_report_refuses_bad_figures_naming_them(figures):
    bad = {**figures, "hotel_name": "Le Petit Paris", "month": "2027-13", "currency": "eur",
           "days": figures["days"][:3], "totals": {**figures["totals"], "rooms_sold": -1}}
    with pytest.raises(ValidationFailed) as refusal:
        rendering.render("monthly_report", bad)
    assert set(refusal.value.details) == {"month", "currency", "days", "totals"}
