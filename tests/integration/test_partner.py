"""The partner back office end to end: a hotel's manager and the operator, through the
gateway's JSON API and pages, with every service in a real container on the real
broker, the sandbox bank and the mail sink in their own processes.

Who may call what is checked route by route from the OpenAPI document, so that a
new partner or admin route is covered without editing this file."""
import io
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import update
from sqlalchemy.orm import Session

from booking.kit.config import PROJECT_ROOT
from booking.kit.database import create_db_engine
from booking.users.models import User
from tests import eventually
from tests.integration.test_accounts import PASSWORD, Client, csrf_of, login, register, web_login
from tests.integration.test_booking_saga import (
    card,
    containers,  # noqa: F401 (a fixture)
    saga_config,  # noqa: F401 (a fixture)
)
from tests.integration.test_browser import journey_artifacts

# Le Petit Paris (6 doubles, Europe/Paris) is the manager's; Grand Hôtel, the other manager's
HOTEL, OTHER_HOTEL = 3, 4
GUEST, MANAGER, OTHER_MANAGER, OPERATOR = ("guest@example.com", "manon@example.com", "otto@example.com",
                                           "olga@example.com")
SQLITE = pytest.mark.parametrize("db_uris", ["sqlite"], indirect=True)


def hotel_today():
    return datetime.now(ZoneInfo("Europe/Paris")).date()


def next_weekend():
    """(Friday, Sunday) of the next weekend at least 3 days away."""
    friday = hotel_today() + timedelta(days=3)
    friday += timedelta(days=(4 - friday.weekday()) % 7)
    return friday, friday + timedelta(days=2)


def make_operator(db_uri, email):
    engine = create_db_engine(db_uri)
    with Session(engine) as session, session.begin():
        session.execute(update(User).where(User.email == email).values(role="operator"))
    engine.dispose()


class Cast:
    """Everyone the tests need, each with an HTTP client carrying their token."""

    def __init__(self, base, config):
        self.base, self.config = base, config
        self.clients = []

    def client(self, token=None):
        client = Client(self.base)
        if token:
            client.headers["Authorization"] = f"Bearer {token}"
        self.clients.append(client)
        return client

    def close(self):
        for client in self.clients:
            client.close()


@pytest.fixture
def cast(containers, saga_config):  # noqa: F811
    """A guest, the manager of HOTEL, the manager of OTHER_HOTEL, an operator (who made
    both managers through the admin API) and a service token (client `developer`)."""
    base = f"http://{saga_config['WEB_SERVER_ADDRESS']}"
    people = Cast(base, saga_config)
    anonymous = people.client()
    for email, name in ((GUEST, "Grace Guest"), (MANAGER, "Manon Manager"), (OTHER_MANAGER, "Otto Other"),
                        (OPERATOR, "Olga Operator")):
        register(anonymous, email=email, full_name=name)
    make_operator(saga_config["DB_URIS"]["users"], OPERATOR)
    people.operator = people.client(login(anonymous, OPERATOR)["access_token"])
    for email, hotel in ((MANAGER, HOTEL), (OTHER_MANAGER, OTHER_HOTEL)):
        granted = people.operator.post(f"/api/v1/admin/hotels/{hotel}/managers", json={"email": email})
        assert granted.status_code == 201, granted.text
        assert granted.json()["hotel_id"] == hotel
    people.anonymous = anonymous
    people.guest = people.client(login(anonymous, GUEST)["access_token"])
    people.manager = people.client(login(anonymous, MANAGER)["access_token"])
    assert set(login(anonymous, MANAGER)["scope"].split()) >= {"partner"}
    people.other_manager = people.client(login(anonymous, OTHER_MANAGER)["access_token"])
    developer = anonymous.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=("developer", saga_config["OAUTH_CLIENTS"]["developer"]["secret"]))
    people.service = people.client(developer.json()["access_token"])
    yield people
    people.close()


def book(guest, key, check_in, nights=2, pay=True, room_type="double"):
    """A reservation of one room of HOTEL, paid (and confirmed) unless `pay` is False."""
    stay = {"hotel_id": HOTEL, "check_in": check_in.isoformat(),
            "check_out": (check_in + timedelta(days=nights)).isoformat(),
            "rooms": [{"room_type": room_type, "rate_plan": "flexible", "adults": 2, "children": []}]}
    held = guest.post("/api/v1/reservations", json=stay, headers={"Idempotency-Key": key})
    assert held.status_code == 201, held.text
    reservation = held.json()
    if pay:
        paid = guest.post(f"/api/v1/reservations/{reservation['id']}/payment", json={"card": card()},
                          headers={"Idempotency-Key": f"pay-{key}"})
        assert paid.status_code == 200, paid.text
        eventually(lambda: guest.get(f"/api/v1/reservations/{reservation['id']}").json()["status"] == "confirmed")
    return reservation


def web_client(cast, email):
    """A browser-like client logged in to the web UI as `email`."""
    web = cast.client()
    web_login(web, email=email, password=PASSWORD)
    return web


# -- who may call what -------------------------------------------------------------------------

def partner_operations(client):
    document = client.get("/api/v1/openapi.json").json()
    return [(method.upper(), path, operation) for path, methods in document["paths"].items()
            if path.startswith(("/api/v1/partner/", "/api/v1/admin/")) for method, operation in methods.items()]


def filled(path, values):
    return re.sub(r"{(\w+)}", lambda found: str(values[found.group(1)]), path)


def query_for(operation):
    """A valid value for each query parameter the operation requires."""
    today = hotel_today()
    values = {"month": today.strftime("%Y-%m"), "from": today.isoformat(),
              "to": (today + timedelta(days=6)).isoformat()}
    return {parameter["name"]: values[parameter["name"]] for parameter in operation.get("parameters", [])
            if parameter["in"] == "query" and parameter.get("required")}


@SQLITE
def test_every_partner_and_admin_route_answers_each_kind_of_caller_as_it_should(cast):
    reservation = book(cast.guest, "matrix", hotel_today() + timedelta(days=30))
    values = {"hotel_id": HOTEL, "room_type": "double", "reservation_id": reservation["id"]}
    operations = partner_operations(cast.anonymous)
    assert len(operations) >= 17, [(method, path) for method, path, _ in operations]
    callers = {"nobody": cast.anonymous, "guest": cast.guest, "other manager": cast.other_manager,
               "manager": cast.manager, "operator": cast.operator, "service": cast.service}
    wrong = []
    for method, path, operation in operations:
        admin = path.startswith("/api/v1/admin/")
        of_a_hotel = "{hotel_id}" in path or "{reservation_id}" in path
        url = filled(path, values)
        query = query_for(operation)
        for who, client in callers.items():
            body = {"json": {}} if "requestBody" in operation else {}
            status = client.request(method, f"{url}?{urlencode(query)}" if query else url, **body).status_code
            if who == "nobody":
                ok = status == 401
            elif who in ("guest", "service"):
                ok = status == 403
            elif admin and who in ("manager", "other manager"):
                ok = status == 403
            elif who == "other manager" and of_a_hotel:
                ok = status == 404
            else:  # the manager of this hotel, the operator, another manager's own list: done, or a 400/409
                ok = status not in (401, 403, 404) and status < 500
            if not ok:
                wrong.append((method, path, who, status))
    print(f"permission matrix: {len(operations)} operations × {len(callers)} callers = "
          f"{len(operations) * len(callers)} calls")
    assert not wrong, wrong


# -- the rate calendar, as guests see it -------------------------------------------------------

@SQLITE
def test_a_managers_new_weekend_price_is_on_the_guests_hotel_page_at_once(cast):
    friday, sunday = next_weekend()
    stay = {"check_in": friday.isoformat(), "check_out": sunday.isoformat(), "guests": 2}

    def flexible_double():
        hotel = cast.guest.get(f"/api/v1/hotels/{HOTEL}", params=stay).json()
        double = next(room for room in hotel["room_types"] if room["code"] == "double")
        return next(plan for plan in double["rate_plans"] if plan["code"] == "flexible")["stay_price"]["amount"]

    assert flexible_double() == "300.00"  # 2 nights at 150.00, now in the gateway's cache
    changed = cast.manager.put(f"/api/v1/partner/hotels/{HOTEL}/calendar", json={
        "room_type": "double", "rate_plan": "*", "from": friday.isoformat(),
        "to": (sunday - timedelta(days=1)).isoformat(), "price": "210.00"})
    assert changed.status_code == 200, changed.text
    nights = changed.json()["room_types"][0]["plans"][0]["nights"]
    assert [night["price"]["amount"] for night in nights] == ["210.00", "210.00"]
    eventually(lambda: flexible_double() == "420.00", timeout=2)
    page = cast.guest.get(f"/hotels/{HOTEL}", params=stay)
    assert "420.00" in page.text

    calendar = cast.manager.get(f"/api/v1/partner/hotels/{HOTEL}/calendar",
                                params={"from": friday.isoformat(), "to": sunday.isoformat()}).json()
    prices = [night["price"]["amount"] for night in calendar["room_types"][0]["plans"][0]["nights"]]
    assert prices == ["210.00", "210.00", "150.00"]


@SQLITE
def test_a_closed_night_is_neither_found_nor_quoted_to_guests(cast):
    closed = hotel_today() + timedelta(days=20)
    stay = {"check_in": closed.isoformat(), "check_out": (closed + timedelta(days=1)).isoformat()}
    found = cast.guest.get("/api/v1/hotels", params={"city": "Paris", **stay, "guests": 2}).json()
    assert HOTEL in [hotel["id"] for hotel in found["items"]]
    answer = cast.manager.put(f"/api/v1/partner/hotels/{HOTEL}/calendar", json={
        "room_type": "double", "rate_plan": "*", "from": closed.isoformat(), "to": closed.isoformat(),
        "closed": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["room_types"][0]["plans"][0]["nights"][0]["closed"] is True

    eventually(lambda: HOTEL not in [hotel["id"] for hotel in cast.guest.get(
        "/api/v1/hotels", params={"city": "Paris", **stay, "guests": 2}).json()["items"]], timeout=2)
    quote = cast.guest.post("/api/v1/quotes", json={"hotel_id": HOTEL, **stay, "rooms": [
        {"room_type": "double", "rate_plan": "flexible", "adults": 2, "children": []}]})
    assert (quote.status_code, quote.json()["error"]) == (422, "NOT_SELLABLE"), quote.text


@SQLITE
def test_fewer_rooms_than_are_sold_is_refused_with_the_nights_listed_in_the_api_and_the_page(cast):
    arrival = hotel_today() + timedelta(days=10)
    for n in range(2):
        book(cast.guest, f"sold-{n}", arrival, pay=False)
    refused = cast.manager.patch(f"/api/v1/partner/hotels/{HOTEL}/room-types/double", json={"rooms": 1})
    assert (refused.status_code, refused.json()["error"]) == (409, "ROOMS_SOLD"), refused.text
    # (nameko carries an error's details as text: a count may arrive as "2")
    assert [{**night, "sold": int(night["sold"])} for night in refused.json()["details"]["nights"]] == [
        {"date": arrival.isoformat(), "sold": 2}, {"date": (arrival + timedelta(days=1)).isoformat(), "sold": 2}]
    assert cast.manager.get(f"/api/v1/partner/hotels/{HOTEL}").json()["room_types"][0]["rooms"] == 6

    web = web_client(cast, MANAGER)
    form = web.get(f"/partner/hotels/{HOTEL}")
    assert form.status_code == 200 and "Le Petit Paris" in form.text
    page = web.post(f"/partner/hotels/{HOTEL}/room-types/double", data={
        "csrf_token": csrf_of(form), "name": "Double", "max_adults": "2", "rooms": "1", "price": "150.00"})
    assert page.status_code == 409
    assert 'aria-invalid="true"' in page.text
    assert f"{arrival.strftime('%a %d %b %Y')} (2 sold)" in page.text

    saved = web.post(f"/partner/hotels/{HOTEL}/room-types/double", data={
        "csrf_token": csrf_of(form), "name": "Double Room", "max_adults": "2", "rooms": "8", "price": "150.00"})
    assert saved.status_code == 303
    assert "Double Room is saved." in web.get(saved.headers["Location"].split("#")[0]).text
    assert cast.manager.get(f"/api/v1/partner/hotels/{HOTEL}/room-types").json()["items"][0]["rooms"] == 8


# -- reservations, arrivals and the month's report ----------------------------------------------

def test_the_front_desk_finds_checks_in_and_out_and_marks_a_no_show_then_the_report_counts_it(cast):
    today = max(hotel_today(), datetime.now(UTC).date())  # a stay starts today or later, in UTC too
    arriving = book(cast.guest, "arriving", today)
    absent = book(cast.guest, "absent", today)
    later = book(cast.guest, "later", today + timedelta(days=40))
    reservations = f"/api/v1/partner/hotels/{HOTEL}/reservations"

    found = cast.manager.get(reservations, params={"arrival": today.isoformat()}).json()["items"]
    assert {item["id"] for item in found} == {arriving["id"], absent["id"]}
    assert {item["guest_name"] for item in found} == {"Grace Guest"} and "card" not in str(found)
    assert [item["id"] for item in cast.manager.get(reservations, params={"q": later["id"]}).json()["items"]] \
        == [later["id"]]
    assert len(cast.manager.get(reservations, params={"q": "grace"}).json()["items"]) == 3
    refused = cast.manager.get(reservations, params={"status": "lost"})
    assert refused.status_code == 400 and "status" in refused.json()["details"]
    assert cast.manager.get(reservations, params={"colour": "red"}).status_code == 400

    partner = "/api/v1/partner/reservations"
    checked_in = cast.manager.post(f"{partner}/{arriving['id']}/check-in")
    assert checked_in.status_code == 200 and checked_in.json()["status"] == "checked_in", checked_in.text
    assert cast.manager.post(f"{partner}/{arriving['id']}/check-in").json()["status"] == "checked_in"
    assert cast.manager.post(f"{partner}/{arriving['id']}/check-out").json()["status"] == "checked_out"
    too_early = cast.manager.post(f"{partner}/{later['id']}/check-in")
    assert (too_early.status_code, too_early.json()["details"]["reason"]) == (409, "too_early")
    no_show = cast.manager.post(f"{partner}/{absent['id']}/no-show")
    assert no_show.status_code == 200 and no_show.json()["status"] == "no_show", no_show.text
    assert [item["id"] for item in cast.manager.get(reservations, params={"status": "no_show"}).json()["items"]] \
        == [absent["id"]]
    assert cast.other_manager.post(f"{partner}/{later['id']}/no-show").status_code == 404

    month = today.strftime("%Y-%m")
    report = cast.manager.get(f"/api/v1/partner/hotels/{HOTEL}/report", params={"month": month})
    assert report.status_code == 200, report.text
    totals = report.json()["totals"]
    # the stay checked in and out sold its nights of this month (one only, on a month's last day)
    sold = sum((today + timedelta(days=n)).month == today.month for n in range(2))
    assert totals["no_shows"] == 1 and totals["rooms_sold"] == sold and 0 < totals["occupancy"] <= 1
    assert [room["code"] for room in report.json()["room_types"]] == ["double"]
    assert len(report.json()["days"]) >= 28

    csv = cast.manager.get(f"/api/v1/partner/hotels/{HOTEL}/report.csv", params={"month": month})
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert csv.headers["Content-Disposition"].startswith("attachment;") and month in csv.headers["Content-Disposition"]
    assert month in csv.text and "\n" in csv.text.strip()
    pdf = cast.manager.get(f"/api/v1/partner/hotels/{HOTEL}/report.pdf", params={"month": month})
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Le Petit Paris" in text, text
    assert cast.manager.get(f"/api/v1/partner/hotels/{HOTEL}/report", params={"month": "13-2027"}).status_code == 400


# -- the pages ---------------------------------------------------------------------------------

@SQLITE
def test_the_partner_pages_let_only_managers_in_and_work_with_forms(cast):
    anonymous = cast.client()
    calendar_page = f"/partner/hotels/{HOTEL}/calendar?month=2030-01"
    sent = anonymous.get(calendar_page)
    assert sent.status_code == 303 and sent.headers["Location"] == "/login?" + urlencode({"next": calendar_page})

    guest = web_client(cast, GUEST)
    denied = guest.get("/partner")
    assert denied.status_code == 403 and "for hotel partners" in denied.text
    assert 'href="/partner"' not in guest.get("/bookings").text

    web = web_client(cast, MANAGER)
    home = web.get("/partner")
    assert home.status_code == 200 and "Le Petit Paris" in home.text and "Grand Hôtel" not in home.text
    assert 'href="/partner">Partner</a>' in home.text
    assert web.get(f"/partner/hotels/{OTHER_HOTEL}").status_code == 404

    friday, _ = next_weekend()
    month = friday.strftime("%Y-%m")
    calendar = web.get(f"/partner/hotels/{HOTEL}/calendar", params={"month": month})
    assert calendar.status_code == 200
    assert "<caption" in calendar.text and 'scope="row"' in calendar.text
    refused = web.post(f"/partner/hotels/{HOTEL}/calendar", data={
        "csrf_token": csrf_of(calendar), "room_type": "double", "rate_plan": "*", "start": friday.isoformat(),
        "end": friday.isoformat(), "month": month})
    assert refused.status_code == 400 and "Choose what to change" in refused.text
    backwards = web.post(f"/partner/hotels/{HOTEL}/calendar", data={
        "csrf_token": csrf_of(calendar), "room_type": "double", "rate_plan": "*", "start": friday.isoformat(),
        "end": (friday - timedelta(days=1)).isoformat(), "price": "99.00", "month": month})
    assert backwards.status_code == 400 and "Last night" in backwards.text
    assert web.post(f"/partner/hotels/{HOTEL}/calendar", data={
        "room_type": "double", "start": friday.isoformat(), "end": friday.isoformat(), "closed": "close"}
    ).status_code == 403  # no CSRF token
    saved = web.post(f"/partner/hotels/{HOTEL}/calendar", data={
        "csrf_token": csrf_of(calendar), "room_type": "double", "rate_plan": "*", "start": friday.isoformat(),
        "end": friday.isoformat(), "closed": "close", "min_stay": "2", "month": month})
    assert saved.status_code == 303, saved.text
    assert saved.headers["Location"] == f"/partner/hotels/{HOTEL}/calendar?month={month}"
    after = web.get(saved.headers["Location"])
    assert f"Saved for Double, every plan, the night of {friday.strftime('%a %d %b %Y')}: closed" in after.text
    assert "cal-closed" in after.text and "min 2" in after.text

    profile = web.get(f"/partner/hotels/{HOTEL}")
    blank = web.post(f"/partner/hotels/{HOTEL}", data={
        "csrf_token": csrf_of(profile), "name": " ", "description": "", "address": "1 Rue", "amenities": "wifi",
        "check_in_time": "15:00", "check_out_time": "11:00", "policies_text": ""})
    assert blank.status_code == 400 and "Name: Please fill this in." in blank.text
    changed = web.post(f"/partner/hotels/{HOTEL}", data={
        "csrf_token": csrf_of(profile), "name": "Le Petit Paris", "description": "Small and quiet.",
        "address": "3 Rue du Bac", "amenities": "wifi, breakfast", "check_in_time": "14:00",
        "check_out_time": "11:00", "policies_text": "No pets."})
    assert changed.status_code == 303
    hotel = cast.manager.get(f"/api/v1/partner/hotels/{HOTEL}").json()
    assert (hotel["amenities"], hotel["check_in_time"], hotel["policies_text"]) == (
        ["wifi", "breakfast"], "14:00", "No pets.")

    booked = book(cast.guest, "front-desk", hotel_today() + timedelta(days=25))  # after the closed Friday
    listing = web.get(f"/partner/hotels/{HOTEL}/reservations", params={"q": "Grace"})
    assert listing.status_code == 200 and booked["id"] in listing.text
    assert f"No-show<span class=\"visually-hidden\"> booking {booked['id']}" not in listing.text  # not yet
    early = web.post(f"/partner/reservations/{booked['id']}/check-in", data={
        "csrf_token": csrf_of(listing), "back": f"/partner/hotels/{HOTEL}/reservations?q=Grace"})
    assert early.status_code == 303 and early.headers["Location"] == f"/partner/hotels/{HOTEL}/reservations?q=Grace"
    assert "too early" in web.get(early.headers["Location"]).text

    report = web.get(f"/partner/hotels/{HOTEL}/report")
    assert report.status_code == 200 and "Occupancy" in report.text and "RevPAR" in report.text
    csv = web.get(f"/partner/hotels/{HOTEL}/report.csv", params={"month": hotel_today().strftime("%Y-%m")})
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    pdf = web.get(f"/partner/hotels/{HOTEL}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


# -- in a browser --------------------------------------------------------------------------------

@SQLITE
def test_a_manager_prices_closes_checks_in_and_downloads_the_report_in_chromium(cast, saga_config):  # noqa: F811
    artifacts = journey_artifacts("partner")
    arriving = book(cast.guest, "arriving-in-chromium", max(hotel_today(), datetime.now(UTC).date()))
    journey = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "tests" / "browser" / "partner_journey.py"), cast.base, str(artifacts),
         str(HOTEL), MANAGER, PASSWORD, arriving["id"]],
        capture_output=True, text=True, timeout=300)
    assert journey.returncode == 0, journey.stdout + journey.stderr
    shots = {path.name for path in artifacts.glob("partner-*.png")}
    for name in ("hotels", "calendar", "reservations", "profile", "report"):
        assert any(re.fullmatch(rf"partner-\d\d-{name}-390\.png", shot) for shot in shots), shots
    assert "partner-report-1.png" in shots or "partner-report-01.png" in shots, shots
