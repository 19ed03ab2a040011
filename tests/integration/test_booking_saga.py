"""The booking saga's guarantees, with every service in a real container on the real
broker, the sandbox bank and the mail sink in their own processes, on SQLite and
on PostgreSQL."""
import io
import re
from datetime import date, timedelta

import eventlet
import pytest
import requests
from nameko.standalone.events import event_dispatcher
from nameko.testing.services import entrypoint_hook
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from booking.auth.service import AuthService
from booking.devstack.mailsink import read_messages
from booking.kit.database import create_db_engine
from booking.kit.schemas import to_minor
from booking.payments.service import PaymentsService
from booking.reports.service import ReportsService
from booking.reservations.models import Reservation, RoomNight
from booking.reservations.service import ReservationsService
from booking.search.service import SearchService
from booking.users.service import UsersService
from entrypoints.gateway.service import GatewayService
from tests import eventually
from tests.conftest import start_sandbox_bank
from tests.integration.test_accounts import PASSWORD, Client, login, register

CHECK_IN = date.today() + timedelta(days=30)
STAY = {"check_in": CHECK_IN.isoformat(), "check_out": (CHECK_IN + timedelta(days=2)).isoformat()}
# Le Petit Paris has 6 double rooms, and nothing else
LAST_ROOMS_HOTEL = {"hotel_id": 3, "room_type": "double", "guests": 2, **STAY}
VISA, DECLINED = "4242424242424242", "4000000000000002"
INSUFFICIENT_FUNDS, BANK_FAILS = "4000000000009995", "4000000000000119"


def card(number=VISA):
    return {"number": number, "exp_month": 12, "exp_year": date.today().year + 2, "cvc": "123",
            "holder": "Ada Lovelace"}


@pytest.fixture
def saga_config(config, db_uris, sandbox_bank):
    return {**config, "DB_URIS": db_uris, "BANK_URL": sandbox_bank, "RPC_TIMEOUT": 10}


@pytest.fixture
def containers(container_factory, saga_config):
    return start_containers(container_factory, saga_config)


def start_containers(container_factory, config):
    """Every service in a container of its own (reservations twice): {name: the first}."""
    started = {}
    for service in (SearchService, UsersService, AuthService, ReservationsService, ReservationsService,
                    PaymentsService, ReportsService, GatewayService):
        container = container_factory(service, config)
        container.start()
        started.setdefault(container.service_name, container)
    return started


@pytest.fixture
def guest(containers, saga_config):
    """A logged-in guest's HTTP client."""
    with Client(f"http://{saga_config['WEB_SERVER_ADDRESS']}") as web:
        register(web)
        web.headers["Authorization"] = f"Bearer {login(web)['access_token']}"
        yield web


class Bank(requests.Session):
    def __init__(self, url):
        super().__init__()
        self.url = url
        self.headers["Authorization"] = "Bearer sk_test_booking"

    def charges(self, reference):
        return self.get(f"{self.url}/v1/charges", params={"reference": reference}, timeout=10).json()["data"]

    def balance(self):
        return self.get(f"{self.url}/v1/balance", timeout=10).json()


@pytest.fixture
def bank(saga_config):
    with Bank(saga_config["BANK_URL"]) as session:
        yield session


def hold(guest, key, timeout=15, **stay):
    return guest.post("/api/v1/reservations", json={**LAST_ROOMS_HOTEL, **stay},
                      headers={"Idempotency-Key": key}, timeout=timeout)


def pay(guest, reservation_id, key, number=VISA):
    return guest.post(f"/api/v1/reservations/{reservation_id}/payment", json={"card": card(number)},
                      headers={"Idempotency-Key": key})


def status_of(guest, reservation_id):
    return guest.get(f"/api/v1/reservations/{reservation_id}").json()["status"]


def room_nights(saga_config):
    engine = create_db_engine(saga_config["DB_URIS"]["reservations"])
    with Session(engine) as session:
        nights = [(n.night, n.held, n.capacity) for n in session.scalars(select(RoomNight))]
    engine.dispose()
    return nights


def test_a_hundred_concurrent_holds_for_the_last_five_rooms_give_exactly_five(guest, saga_config):
    assert hold(guest, "first").status_code == 201  # 6 rooms: 5 left
    pool = eventlet.GreenPool(100)
    # the hundred take their turns at the same rows' locks: on PostgreSQL, with the other
    # parts of `make test` beside it, the last was answered after 14 to 17 s
    answers = list(pool.imap(lambda n: hold(guest, f"race-{n}", timeout=60), range(100)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(201) == 5, statuses
    assert statuses.count(409) == 95
    assert {answer.json()["error"] for answer in answers if answer.status_code == 409} == {"NO_ROOM_LEFT"}
    assert [(held, capacity) for _, held, capacity in room_nights(saga_config)] == [(6, 6), (6, 6)]


def test_every_write_delivered_three_times_changes_nothing_more_and_charges_once(
        guest, bank, saga_config):
    held = [hold(guest, "once") for _ in range(3)]
    assert [h.status_code for h in held] == [201, 201, 201]
    reservation_id = held[0].json()["id"]
    assert {h.json()["id"] for h in held} == {reservation_id}
    assert len(guest.get("/api/v1/reservations").json()["items"]) == 1

    paid = [pay(guest, reservation_id, "pay-once") for _ in range(3)]
    assert [p.status_code for p in paid] == [200, 200, 200]
    assert len({p.json()["id"] for p in paid}) == 1
    assert len(bank.charges(reservation_id)) == 1
    eventually(lambda: status_of(guest, reservation_id) == "confirmed")

    # the payment's event delivered twice more: confirmed once, one confirmation e-mail
    dispatch = event_dispatcher(saga_config)
    payment = paid[0].json()
    for _ in range(2):
        dispatch("payments", "payment_succeeded", {"payment_id": payment["id"], "reservation_id": reservation_id,
                                                   "user_id": 1, "status": "succeeded"})
    eventlet.sleep(1)

    def one_confirmation_and_one_receipt():
        subjects = [m["Subject"] for m in read_messages(saga_config["MAIL_DIR"])]
        assert sum(s.startswith("Booking confirmed") for s in subjects) == 1, subjects
        assert sum(s.startswith("Your receipt") for s in subjects) == 1, subjects
    eventually(one_confirmation_and_one_receipt)

    cancelled = [guest.post(f"/api/v1/reservations/{reservation_id}/cancel") for _ in range(3)]
    assert {c.json()["status"] for c in cancelled} == {"cancelled"}
    reservation = cancelled[0].json()
    for _ in range(2):
        dispatch("reservations", "reservation_cancelled", {**reservation, "reservation_id": reservation_id})

    def refunded_once():
        assert bank.balance()["refunded"] == bank.balance()["charged"] == 30000  # 2 nights at 150.00
        assert guest.get(f"/api/v1/reservations/{reservation_id}").json()["refunded"] is True
    eventually(refunded_once)
    eventlet.sleep(1)
    assert bank.balance()["refunded"] == bank.balance()["charged"]
    assert [charge["refunded_amount"] for charge in bank.charges(reservation_id)] == [30000]


def test_what_the_gateway_keeps_of_a_hotel_is_forgotten_when_its_rooms_change(guest, saga_config):
    def rooms_left():
        hotel = guest.get("/api/v1/hotels/3", params={**STAY, "guests": 2}).json()
        return hotel["room_types"][0]["rooms_left"]

    def paris_hotels_free():
        found = guest.get("/api/v1/hotels", params={**STAY, "city": "paris", "guests": 2}).json()
        return {hotel["id"] for hotel in found["items"]}

    assert rooms_left() == 6 and paris_hotels_free() == {3, 4}
    assert saga_config["SEARCH_CACHE_SECONDS"] >= 15  # longer than `eventually` waits below
    answers = [hold(guest, f"all-{n}").json()["id"] for n in range(6)]

    eventually(lambda: rooms_left() == 0)  # forgotten on hotel_updated, not timed out
    eventually(lambda: paris_hotels_free() == {4})
    guest.post(f"/api/v1/reservations/{answers[0]}/cancel")
    eventually(lambda: paris_hotels_free() == {3, 4})


def test_a_refused_card_keeps_the_hold_for_another_card(guest, bank, saga_config):
    reservation_id = hold(guest, "declined").json()["id"]
    for key, number, reason in (("pay-declined", DECLINED, "card_declined"),
                                ("pay-poor", INSUFFICIENT_FUNDS, "insufficient_funds"),
                                ("pay-bank-fails", BANK_FAILS, "not_charged")):
        refused = pay(guest, reservation_id, key, number)
        assert refused.status_code == 402, refused.text
        assert (refused.json()["error"], refused.json()["details"]["reason"]) == ("PAYMENT_DECLINED", reason)
        eventually(lambda reason=reason: guest.get(f"/api/v1/reservations/{reservation_id}").json()
                   ["last_payment_failure"] == reason)
        assert status_of(guest, reservation_id) == "held"
        assert [held for _, held, _ in room_nights(saga_config)] == [1, 1]  # still held: nothing released
    assert bank.balance()["charged"] == 0

    paid = pay(guest, reservation_id, "pay-another-card", VISA)
    assert paid.status_code == 200 and paid.json()["status"] == "succeeded", paid.text
    eventually(lambda: status_of(guest, reservation_id) == "confirmed")
    booking = guest.get(f"/api/v1/reservations/{reservation_id}").json()
    assert booking["last_payment_failure"] is None and booking["payment_id"] == paid.json()["id"]
    assert [held for _, held, _ in room_nights(saga_config)] == [1, 1]
    assert sorted(charge["status"] for charge in bank.charges(reservation_id)) == ["failed", "failed", "succeeded"]
    assert bank.balance()["charged"] == to_minor(booking["total"]["amount"], "EUR")


@pytest.fixture
def late_bank(tmp_path):
    """A sandbox bank whose charges land 2.5 s after they are sent."""
    (tmp_path / "late").mkdir()
    process, url = start_sandbox_bank(tmp_path / "late", "--charge-delay-ms", "2500")
    yield url
    process.terminate()
    process.wait(10)


def test_a_charge_that_lands_after_its_request_timed_out_is_never_taken_as_declined(
        container_factory, saga_config, late_bank):
    """The charge request times out (BANK_TIMEOUT 1 s) and the look-up right after
    finds nothing, yet the charge lands a moment later: the payment stays unknown
    (503, being checked), and the next look finds it and confirms the booking,
    instead of declining it and releasing the hold while the money is taken."""
    config = {**saga_config, "BANK_URL": late_bank, "BANK_TIMEOUT": 1}
    containers = start_containers(container_factory, config)
    with Client(f"http://{config['WEB_SERVER_ADDRESS']}") as guest:
        register(guest)
        guest.headers["Authorization"] = f"Bearer {login(guest)['access_token']}"
        reservation_id = hold(guest, "late-bank").json()["id"]
        pending = pay(guest, reservation_id, "pay-late")
        assert pending.status_code == 503 and pending.json()["error"] == "PAYMENT_PENDING", pending.text
        assert status_of(guest, reservation_id) == "held"

        eventlet.sleep(3)  # the charge lands
        with entrypoint_hook(containers["payments"], "sweep") as sweep:
            sweep()
        eventually(lambda: status_of(guest, reservation_id) == "confirmed")
        with Bank(late_bank) as bank:
            assert [charge["status"] for charge in bank.charges(reservation_id)] == ["succeeded"]
        again = pay(guest, reservation_id, "pay-late")  # the guest's retry gets the payment
        assert again.status_code == 200 and again.json()["status"] == "succeeded"


def test_a_refund_the_bank_cannot_take_is_retried_and_made_once_when_the_bank_is_back(
        container_factory, saga_config, tmp_path):
    """The bank is down when a paid booking is cancelled: payments' refund handler
    fails, is tried again after a growing delay (not acked and lost, as nameko
    would), and refunds once, when the bank is back."""
    (tmp_path / "flaky").mkdir()
    process, url = start_sandbox_bank(tmp_path / "flaky")
    config = {**saga_config, "BANK_URL": url, "BANK_TIMEOUT": 2}
    start_containers(container_factory, config)
    with Client(f"http://{config['WEB_SERVER_ADDRESS']}") as guest, Bank(url) as bank:
        register(guest)
        guest.headers["Authorization"] = f"Bearer {login(guest)['access_token']}"
        reservation_id = hold(guest, "refund-later").json()["id"]
        assert pay(guest, reservation_id, "pay-refund-later").status_code == 200
        eventually(lambda: status_of(guest, reservation_id) == "confirmed")

        process.terminate()
        process.wait(10)  # the bank goes away
        assert guest.post(f"/api/v1/reservations/{reservation_id}/cancel").status_code == 200
        eventlet.sleep(1)  # the refund fails, and waits to be tried again
        process, _ = start_sandbox_bank(tmp_path / "flaky", port=int(url.rsplit(":", 1)[1]))
        try:
            eventually(lambda: bank.balance()["refunded"] == bank.balance()["charged"] > 0, timeout=20)
            eventually(lambda: guest.get(f"/api/v1/reservations/{reservation_id}").json()["refunded"])
            [charge] = bank.charges(reservation_id)
            assert charge["refunded_amount"] == charge["amount"]
        finally:
            process.terminate()
            process.wait(10)


def test_an_expired_hold_frees_its_rooms(guest, containers, saga_config):
    reservation_id = hold(guest, "to-expire").json()["id"]
    engine = create_db_engine(saga_config["DB_URIS"]["reservations"])
    with Session(engine) as session, session.begin():
        session.get(Reservation, reservation_id).expires_at = CHECK_IN - timedelta(days=40)
    engine.dispose()
    with entrypoint_hook(containers["reservations"], "expire_holds") as expire_holds:
        expire_holds()
    assert status_of(guest, reservation_id) == "expired"
    assert [held for _, held, _ in room_nights(saga_config)] == [0, 0]
    with entrypoint_hook(containers["reservations"], "expire_holds") as expire_holds:
        expire_holds()  # a second sweep (or a second instance) changes nothing
    assert [held for _, held, _ in room_nights(saga_config)] == [0, 0]


def test_money_adds_up(guest, bank, saga_config):
    outcomes = {"paid-1": VISA, "paid-2": VISA, "declined": DECLINED, "refunded": VISA}
    ids = {}
    for key, number in outcomes.items():
        ids[key] = hold(guest, key).json()["id"]
        pay(guest, ids[key], f"pay-{key}", number)
    guest.post(f"/api/v1/reservations/{ids['refunded']}/cancel")

    def books_balance():
        reservations = guest.get("/api/v1/reservations").json()["items"]
        confirmed = [r for r in reservations if r["status"] == "confirmed"]
        assert len(confirmed) == 2
        assert all(r["payment_id"] for r in confirmed)
        owed = sum(int(r["total"]["amount"].replace(".", "")) for r in confirmed if not r["refunded"])
        assert bank.balance()["net"] == owed
        assert bank.balance()["refunded"] == bank.balance()["charged"] - owed
    eventually(books_balance)

    engine = create_db_engine(saga_config["DB_URIS"]["reservations"])
    with Session(engine) as session:
        unpaid_confirmed = session.scalar(select(func.count()).where(
            Reservation.status == "confirmed", Reservation.payment_id.is_(None)))
    engine.dispose()
    assert unpaid_confirmed == 0



def pdf_text(content):
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_a_confirmed_booking_has_its_pdf_in_the_api_and_in_both_emails(guest, saga_config):
    reservation_id = hold(guest, "with-pdf").json()["id"]
    early = guest.get(f"/api/v1/reservations/{reservation_id}/confirmation.pdf")
    assert early.status_code == 409 and early.json()["error"] == "NOT_CONFIRMED"
    assert pay(guest, reservation_id, "pay-with-pdf").status_code == 200
    eventually(lambda: status_of(guest, reservation_id) == "confirmed")

    pdf = guest.get(f"/api/v1/reservations/{reservation_id}/confirmation.pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert f"confirmation-{reservation_id}.pdf" in pdf.headers["Content-Disposition"]
    printed = pdf_text(pdf.content)
    for words in (reservation_id, "Ada Lovelace", "Le Petit Paris", "300.00 EUR", "27.27 EUR",
                  date.fromisoformat(STAY["check_in"]).strftime("%d %B %Y")):
        assert words in printed, words

    with Client(guest.base_url) as stranger:
        register(stranger, email="eve@example.com", full_name="Eve")
        stranger.headers["Authorization"] = f"Bearer {login(stranger, email='eve@example.com')['access_token']}"
        assert stranger.get(f"/api/v1/reservations/{reservation_id}/confirmation.pdf").status_code == 404

    def attachments():
        found = {}
        for message in read_messages(saga_config["MAIL_DIR"]):
            for part in message.iter_attachments():
                found[part.get_filename()] = part.get_content()
        assert {f"confirmation-{reservation_id}.pdf", f"receipt-{reservation_id}.pdf"} <= set(found), found.keys()
        return found
    eventually(attachments)
    found = attachments()
    assert found[f"confirmation-{reservation_id}.pdf"] == pdf.content
    assert "Visa ending in 4242" in pdf_text(found[f"receipt-{reservation_id}.pdf"])


def form_of(page, action):
    """The hidden fields of the form posting to `action` (or an action starting so) on `page`."""
    form = page.text[page.text.index(f'action="{action}'):]
    form = form[:form.index("</form>")]
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))


def test_the_pages_take_a_guest_from_the_hotel_to_a_confirmed_booking_and_back(containers, saga_config):
    with Client(f"http://{saga_config['WEB_SERVER_ADDRESS']}") as web:
        signup = web.get("/register")
        web.post("/register", data={**form_of(signup, "/register"), "email": "ada@example.com",
                                    "password": PASSWORD, "full_name": "Ada Lovelace"})
        hotel = web.get("/hotels/3", params={**STAY, "guests": 2})
        assert "Book" in hotel.text and ">6<" in hotel.text  # 6 double rooms left
        booked = web.post("/hotels/3/book", data=form_of(hotel, "/hotels/3/book"))
        assert booked.status_code == 303
        booking_url = booked.headers["Location"]
        again = web.post("/hotels/3/book", data=form_of(hotel, "/hotels/3/book"))  # a double submit
        assert again.headers["Location"] == booking_url

        held = web.get(booking_url)
        assert "The room is held for you" in held.text and "4242 4242 4242 4242" in held.text
        payment = form_of(held, f"{booking_url}/pay")
        card = {"holder": "Ada Lovelace", "exp_month": "12", "exp_year": str(date.today().year + 2), "cvc": "123"}
        declined = web.post(f"{booking_url}/pay", data={**payment, **card, "number": DECLINED,
                                                         "idempotency_key": "declined-form"})
        # the hold stays: the page says why and offers the form again, the name and expiry kept
        assert declined.status_code == 402 and "Your bank declined this card. Nothing was charged." in declined.text
        assert "still held for you until" in declined.text and 'value="Ada Lovelace"' in declined.text
        assert DECLINED not in declined.text and 'value="123"' not in declined.text
        mistyped = web.post(f"{booking_url}/pay", data={**form_of(declined, f"{booking_url}/pay"), **card,
                                                         "number": "4242 4242 4242 4241", "exp_month": "13"})
        assert mistyped.status_code == 400
        for problem in ("Card number: Not a valid card number.", "Expiry month: Choose from 1 to 12."):
            assert problem in mistyped.text, problem
        assert 'name="number" required inputmode="numeric" autocomplete="cc-number" maxlength="23" ' \
               'aria-invalid="true" aria-describedby="number-error"' in mistyped.text

        paid = web.post(f"{booking_url}/pay", data={**form_of(mistyped, f"{booking_url}/pay"), **card, "number": VISA})
        assert paid.status_code == 303
        eventually(lambda: "Download the confirmation" in web.get(booking_url).text)
        pdf = web.get(f"{booking_url}/confirmation.pdf")
        assert pdf.headers["Content-Type"] == "application/pdf" and "Ada Lovelace" in pdf_text(pdf.content)

        mine = web.get("/bookings")
        reference = booking_url.rsplit("/", 1)[1]
        assert reference in mine.text and "status-cancelled" not in mine.text  # declined tries left no booking
        # a hold given up before paying is an unfinished try: counted, not listed
        hotel = web.get("/hotels/3", params={**STAY, "guests": 2})
        given_up = web.post("/hotels/3/book", data=form_of(hotel, "/hotels/3/book")).headers["Location"]
        review = web.get(f"{given_up}/cancel")
        assert web.post(f"{given_up}/cancel", data=form_of(review, f"{given_up}/cancel")).status_code == 303
        assert "Book again" in web.get(given_up).text
        mine = web.get("/bookings")
        assert given_up.rsplit("/", 1)[1] not in mine.text and "1 unfinished booking" in mine.text
        # a guest's pages never come back from a cache (the Back button after logging out)
        assert mine.headers["Cache-Control"] == "no-store" == web.get(booking_url).headers["Cache-Control"]
        assert web.get("/account").headers["Cache-Control"] == "no-store"
        cancelled = web.post(f"/bookings/{reference}/cancel", data=form_of(mine, f"/bookings/{reference}/cancel"))
        assert cancelled.status_code == 303
        eventually(lambda: "refunded" in web.get(booking_url).text)

        assert web.post(f"/bookings/{reference}/cancel", data={}).status_code == 403  # no CSRF token


def test_a_visitor_is_asked_to_log_in_and_comes_back_to_the_hotel(containers, saga_config):
    with Client(f"http://{saga_config['WEB_SERVER_ADDRESS']}") as web:
        hotel = web.get("/hotels/3", params={**STAY, "guests": 2})
        assert "Log in to book" in hotel.text and 'action="/hotels/3/book"' not in hotel.text
        bounced = web.post("/hotels/3/book", data={**STAY, "guests": "2", "room_type": "double"})
        assert bounced.status_code == 303 and bounced.headers["Location"].startswith("/login?next=")
        register(web)
        form = web.get(bounced.headers["Location"])
        back = web.post(bounced.headers["Location"], data={**form_of(form, "/login?next="), "email": "ada@example.com",
                                                           "password": PASSWORD})
        assert back.status_code == 303 and back.headers["Location"].startswith("/hotels/3?check_in=")


def test_a_guest_keeps_their_place_through_signing_up_and_logging_in_again(containers, saga_config):
    with Client(f"http://{saga_config['WEB_SERVER_ADDRESS']}") as web:
        hotel = web.get("/hotels/3", params={**STAY, "guests": 2})
        here = re.search(r'href="(/login\?next=[^"]+)">Log in to book', hotel.text).group(1)
        login_page = web.get(here.replace("&amp;", "&"))
        sign_up = re.search(r'href="(/register\?next=[^"]+)"', login_page.text).group(1).replace("&amp;", "&")
        form = web.get(sign_up)
        # every problem at once, each next to its field, and what was typed kept (not the password)
        refused = web.post(sign_up, data={**form_of(form, "/register"), "email": "not-an-address",
                                          "password": "password", "full_name": " "})
        assert refused.status_code == 400
        summary = refused.text[refused.text.index('role="alert"'):refused.text.index("<form")]
        problems = ("Full name: Please fill this in (at most 200 characters).",
                    "E-mail address: Enter an e-mail address", "Password: Use at least 12 characters.")
        assert [summary.index(problem) for problem in problems] == sorted(summary.index(p) for p in problems)
        assert refused.text.count('aria-invalid="true"') == 3 and 'value="not-an-address"' in refused.text
        signed_up = web.post(sign_up, data={**form_of(refused, "/register"), "email": "ada@example.com",
                                            "password": PASSWORD, "full_name": "Ada Lovelace"})
        assert signed_up.status_code == 303 and signed_up.headers["Location"].startswith("/hotels/3?check_in=")

        booked = web.post("/hotels/3/book", data=form_of(web.get(signed_up.headers["Location"]), "/hotels/3/book"))
        booking_url = booked.headers["Location"]
        payment = form_of(web.get(booking_url), f"{booking_url}/pay")
        web.cookies.clear()  # the session ended while the guest typed the card
        web.get("/")
        lost = web.post(f"{booking_url}/pay", data={**payment, "number": VISA})
        assert lost.status_code == 303 and lost.headers["Location"] == f"/login?next=%2Fbookings%2F{booking_url[10:]}"
        login_form = web.get(lost.headers["Location"])
        back = web.post(lost.headers["Location"], data={**form_of(login_form, "/login?next="),
                                                       "email": "ada@example.com", "password": PASSWORD})
        assert back.status_code == 303 and back.headers["Location"] == booking_url
        assert "held for you until" in web.get(booking_url).text


def test_the_card_number_stops_at_the_gateway(guest, saga_config):
    """What the broker carries to payments is the bank's token, not the card."""
    from kombu import Connection, Exchange, Queue

    with Connection(saga_config["AMQP_URI"]) as connection:
        spy = Queue("spy-payments-pay", Exchange("nameko-rpc", type="topic", durable=True),
                    routing_key="payments.pay", auto_delete=True)
        spy(connection.default_channel).declare()
        reservation_id = hold(guest, "spied").json()["id"]
        assert pay(guest, reservation_id, "pay-spied").status_code == 200
        message = spy(connection.default_channel).get(no_ack=True)
    carried = message.body if isinstance(message.body, str) else message.body.decode()
    assert VISA not in carried and "4242 4242" not in carried and '"cvc"' not in carried
    assert '"token": "tok_' in carried and '"last4": "4242"' in carried
    invalid = guest.post(f"/api/v1/reservations/{reservation_id}/payment",
                         json={"card": {**card(), "number": "4242424242424241"}},
                         headers={"Idempotency-Key": "pay-invalid"})
    assert invalid.status_code == 400
    assert invalid.json()["details"] == {"card": {"number": ["Not a valid card number."]}}


@pytest.mark.parametrize("db_uris", ["sqlite"], indirect=True)  # an outage is the same on either
def test_with_payments_down_search_and_bookings_go_on_and_the_page_says_what_is_missing(
        containers, guest, saga_config):
    reservation_id = hold(guest, "before-the-outage").json()["id"]
    containers["payments"].kill()
    assert guest.get("/api/v1/hotels", params={"city": "Paris"}).status_code == 200
    assert hold(guest, "during-the-outage").status_code == 201
    unpaid = pay(guest, reservation_id, "pay-during-the-outage")
    assert unpaid.status_code == 503
    assert unpaid.json()["details"] == {"service": "payments"}
    with Client(guest.base_url) as web:
        signup = web.get("/register")
        web.post("/register", data={**form_of(signup, "/register"), "email": "grace@example.com",
                                    "password": PASSWORD, "full_name": "Grace Hopper"})
        hotel = web.get("/hotels/3", params={**STAY, "guests": 2})
        page = web.get(web.post("/hotels/3/book", data=form_of(hotel, "/hotels/3/book")).headers["Location"])
    assert page.status_code == 503
    assert "The payments service" in page.text and "Traceback" not in page.text
