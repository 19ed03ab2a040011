"""A canary card number, CVC and password, sent through every flow (signing up,
logging in, a failed log-in, booking and paying over the API and the web pages, a
declined card, a bank that fails, a cancellation and its refund, every e-mail),
are found nowhere afterwards: in no log record of any logger, no database file, no
message the broker carried, no e-mail or PDF attachment. Nor is any other card
number (the Luhn scan): only the last four digits may show."""
import logging
from datetime import date
from urllib.parse import quote

import pytest
import requests
from kombu import Connection, Exchange, Queue

from booking.devstack.mailsink import read_messages, wait_for_message
from tests import eventually
from tests.conftest import PROCESS_OUTPUT
from tests.integration.test_accounts import Client, csrf_of, login, register
from tests.integration.test_booking_saga import (  # noqa: F401 (fixtures)
    DECLINED,
    STAY,
    containers,
    form_of,
    hold,
    saga_config,
)
from tests.secrets_scan import (
    Canaries,
    broker_texts,
    database_text,
    mail_files,
    mail_texts,
    sqlite_files,
    sqlite_texts,
)

CARD = "4917483059621633"  # a Visa number of no test's but this one's; the sandbox bank accepts it
SPACED_CARD = "4917 4830 5962 1633"
CVC = "7319"
CANARY_PASSWORD = "Quokka-marmalade-canary-5117"
BANK_FAILS = "4000000000000119"
EXP_YEAR = date.today().year + 2
# three welcomes; a confirmation and a receipt, each with its PDF, for each of two bookings;
# each booking cancelled: the notice, and the credit note (with its PDF) of its refund
EMAILS, ATTACHMENTS = 11, 6


class KeepEveryRecord(logging.Handler):
    # what every record has; anything else is an `extra`, which a structured log would print
    STANDARD = {*vars(logging.makeLogRecord({})), "message", "asctime"}

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.texts = []

    def emit(self, record):
        # formatted at once: the arguments a record holds may change later
        extra = {name: value for name, value in vars(record).items() if name not in self.STANDARD}
        self.texts.append((f"log record of {record.name}", f"{self.format(record)} {extra or ''}"))


@pytest.fixture
def log_records():
    """`(where, text)` of every record that any logger makes during the test, DEBUG ones too."""
    keeper = KeepEveryRecord()
    root = logging.getLogger()
    loggers = [root, *(logger for logger in root.manager.loggerDict.values() if isinstance(logger, logging.Logger))]
    levels = {logger: logger.level for logger in loggers}
    for logger in loggers:
        if logger is root or logger.level:
            logger.setLevel(logging.DEBUG)
        if logger is root or not logger.propagate:
            logger.addHandler(keeper)
    yield keeper.texts
    for logger, level in levels.items():
        logger.setLevel(level)
        logger.removeHandler(keeper)


@pytest.fixture
def firehose(request, rabbit_config):
    """RabbitMQ's firehose for this test's vhost (what `rabbitmqctl trace_on` turns
    on, here through the management API, which needs no node name or Erlang cookie):
    a copy of every message published and delivered lands in one queue. Gives a
    function that reads them all."""
    vhost = rabbit_config["vhost"]
    api = request.config.getoption("RABBIT_API_URI")
    requests.put(f"{api}/api/vhosts/{quote(vhost, safe='')}", json={"tracing": True}, timeout=10).raise_for_status()
    queue = Queue("firehose", Exchange("amq.rabbitmq.trace", type="topic", passive=True), routing_key="#")
    with Connection(rabbit_config["AMQP_URI"]) as connection:
        queue(connection.default_channel).declare()

    def read():
        with Connection(rabbit_config["AMQP_URI"]) as connection:
            copies = queue(connection.default_channel)
            return list(iter(lambda: copies.get(no_ack=True), None))
    return read


def card(number=CARD, exp_year=EXP_YEAR):
    return {"number": number, "exp_month": 12, "exp_year": exp_year, "cvc": CVC, "holder": "Ada Lovelace"}


def pay(web, reservation_id, key, **card_fields):
    return web.post(f"/api/v1/reservations/{reservation_id}/payment", json={"card": card(**card_fields)},
                    headers={"Idempotency-Key": key})


def confirmation_mailed(maildir, to):
    # cancelled sooner, a booking's confirmation would go without its PDF
    wait_for_message(maildir, lambda mail: mail["To"] == to and mail["Subject"].startswith("Booking confirmed"))


def through_the_api(web, maildir):
    """Sign up, log in (and fail to), book, pay, be declined, cancel: the JSON API.
    The booking that ends confirmed and refunded is returned."""
    register(web, password=CANARY_PASSWORD)
    web.headers["Authorization"] = f"Bearer {login(web, password=CANARY_PASSWORD)['access_token']}"
    grant = web.post("/oauth/token", data={"grant_type": "password", "username": "ada@example.com",
                                           "password": CANARY_PASSWORD})
    assert grant.json()["error"] == "unsupported_grant_type"
    register(web, email="eve@example.com", full_name="Eve")
    wrong = web.post("/api/v1/auth/login", json={"email": "eve@example.com", "password": CANARY_PASSWORD})
    assert wrong.status_code == 401

    paid = hold(web, "canary-paid").json()["id"]
    assert pay(web, paid, "pay-canary").status_code == 200
    expired = pay(web, hold(web, "canary-expired").json()["id"], "pay-expired", exp_year=date.today().year - 1)
    assert expired.status_code == 400
    declined = pay(web, hold(web, "canary-declined").json()["id"], "pay-declined", number=DECLINED)
    assert declined.json()["error"] == "PAYMENT_DECLINED"
    failing = pay(web, hold(web, "canary-bank-fails").json()["id"], "pay-bank-fails", number=BANK_FAILS)
    assert failing.json()["details"] == {"reason": "not_charged"}
    confirmation_mailed(maildir, "ada@example.com")
    assert web.post(f"/api/v1/reservations/{paid}/cancel").json()["status"] == "cancelled"
    return paid


def through_the_pages(web, maildir):
    """Sign up, log out, fail to log in, log in, book, pay with a spaced number,
    cancel: the web pages. The booking's page is returned."""
    signup = web.get("/register")
    web.post("/register", data={"csrf_token": csrf_of(signup), "email": "grace@example.com",
                                "password": CANARY_PASSWORD, "full_name": "Grace Hopper"})
    web.post("/logout", data={"csrf_token": csrf_of(web.get("/account"))})
    failed = web.post("/login", data={"csrf_token": csrf_of(web.get("/login")), "email": "eve@example.com",
                                      "password": CANARY_PASSWORD})
    assert failed.status_code == 401
    logged_in = web.post("/login", data={"csrf_token": csrf_of(web.get("/login")), "email": "grace@example.com",
                                         "password": CANARY_PASSWORD})
    assert logged_in.status_code == 303

    hotel = web.get("/hotels/3", params={**STAY, "guests": 2})
    booking_url = web.post("/hotels/3/book", data=form_of(hotel, "/hotels/3/book")).headers["Location"]
    held = web.get(booking_url)
    paid = web.post(f"{booking_url}/pay", data={**form_of(held, f"{booking_url}/pay"), "number": SPACED_CARD,
                                                "exp_month": "12", "exp_year": str(EXP_YEAR), "cvc": CVC,
                                                "holder": "Grace Hopper"})
    assert paid.status_code == 303
    confirmation_mailed(maildir, "grace@example.com")
    mine = web.get("/bookings")
    reference = booking_url.rsplit("/", 1)[1]
    web.post(f"/bookings/{reference}/cancel", data=form_of(mine, f"/bookings/{reference}/cancel"))
    return booking_url


def test_no_card_number_cvc_or_password_is_kept_anywhere(
        log_records, firehose, containers, saga_config, tmp_path, figures):  # noqa: F811
    canaries = Canaries(CARD, CVC, CANARY_PASSWORD)
    # the scan itself finds each canary, and another card's number by the Luhn check
    assert len(canaries.findings("self-check", f"{SPACED_CARD} cvc={CVC} {CANARY_PASSWORD} 4000-0000-0000-0002")) == 5

    base_url, maildir = f"http://{saga_config['WEB_SERVER_ADDRESS']}", saga_config["MAIL_DIR"]
    with Client(base_url) as api, Client(base_url) as browser:
        refunded = through_the_api(api, maildir)
        booking_url = through_the_pages(browser, maildir)
        eventually(lambda: api.get(f"/api/v1/reservations/{refunded}").json()["refunded"] is True)
        eventually(lambda: "refunded" in browser.get(booking_url).text)
    eventually(lambda: len(read_messages(maildir)) == EMAILS)

    broker_messages = firehose()
    process_output = (tmp_path / PROCESS_OUTPUT).read_text()
    # the services' databases (when on SQLite) and the bank's ledger, as stored and read
    database_files = list(sqlite_files(tmp_path))
    database_texts = list(sqlite_texts(tmp_path))
    if not saga_config["DB_URIS"]["users"].startswith("sqlite"):
        database_texts += [database_text(uri) for uri in saga_config["DB_URIS"].values()]
    stored = [*database_files, *mail_files(maildir)]
    texts = [
        *log_records,
        ("the bank's and the mail sink's output", process_output),
        *database_texts,
        *broker_texts(broker_messages),
        *mail_texts(maildir),
    ]
    found = [finding for where, text in texts for finding in canaries.findings(where, text)]
    found += [finding for where, data in stored for finding in canaries.findings(where, data, luhn=False)]

    emails = read_messages(maildir)
    figures.update({
        "log records": len(log_records),
        "process output bytes": len(process_output),
        "database files": len(database_files),
        "database bytes": sum(len(data) for _, data in database_files),
        "database dump characters": sum(len(text) for _, text in database_texts),
        "broker messages published": sum(copy.delivery_info["routing_key"].startswith("publish.")
                                         for copy in broker_messages),
        "broker messages delivered": sum(copy.delivery_info["routing_key"].startswith("deliver.")
                                         for copy in broker_messages),
        "e-mails": len(emails),
        "PDF attachments": sum(1 for email in emails for _ in email.iter_attachments()),
        "findings": len(found),
    })
    # each source was read, whole: what may show of the card is there
    assert figures["e-mails"] == EMAILS and figures["PDF attachments"] == ATTACHMENTS
    assert "POST /v1/tokens 201" in process_output
    assert any(copy.headers["routing_keys"] == ["payments.pay"] for copy in broker_messages)
    assert any(text.startswith("DEBUG") for _, text in log_records)
    assert any("grace@example.com" in text for _, text in database_texts)
    assert any("1633" in data for where, data in database_files if "bank.db" in where)
    assert sum("Visa ending in 1633" in text for where, text in texts if where.endswith(".pdf")) == 2
    assert found == [], "\n".join(found)
