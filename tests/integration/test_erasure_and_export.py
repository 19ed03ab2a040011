"""Deleting an account and taking one's data away, end to end: every service in real
containers on the real broker, the sandbox bank, e-mails through the real SMTP sink,
databases on SQLite and on PostgreSQL. Two guests book; one takes her data away, then
deletes her account; the other's data must be untouched by both."""
# ruff: noqa: F811 (fixtures imported by name come back as test arguments)
import io
import json
import re
import zipfile

from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.devstack.mailsink import wait_for_message
from booking.kit.database import create_db_engine
from booking.kit.errors import Unauthorized
from booking.payments.models import Payment
from booking.reservations.models import Reservation
from tests import eventually
from tests.integration.test_accounts import PASSWORD, REVOCATIONS_MAX_AGE, Client, login, register
from tests.integration.test_booking_saga import (  # noqa: F401 (fixtures)
    VISA,
    bank,
    containers,
    form_of,
    hold,
    pay,
    pdf_text,
    saga_config,
)
from tests.secrets_scan import card_numbers, database_text

ADA = {"email": "ada@example.com", "full_name": "Ada Lovelace"}
GRACE = {"email": "grace@example.com", "full_name": "Grace Hopper"}


def guest_client(config, person):
    client = Client(f"http://{config['WEB_SERVER_ADDRESS']}")
    register(client, **person)
    tokens = login(client, email=person["email"])
    client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
    return client, tokens


def book(client, key, **stay):
    reservation = hold(client, key, **stay).json()
    paid = pay(client, reservation["id"], f"pay-{key}")
    assert paid.json()["status"] == "succeeded", paid.text
    eventually(lambda: client.get(f"/api/v1/reservations/{reservation['id']}").json()["status"] == "confirmed")
    return reservation["id"]


def downloaded(client, export_id):
    """The export's ZIP, once ready (202 until then)."""
    answers = []

    def ready():
        answer = client.get(f"/api/v1/me/exports/{export_id}")
        assert answer.status_code in (200, 202), answer.text
        answers.append(answer)
        return answer.status_code == 200
    eventually(ready, timeout=30)
    answer = answers[-1]
    assert answer.headers["Content-Type"] == "application/zip"
    assert answer.headers["Cache-Control"] == "private, no-store"
    return zipfile.ZipFile(io.BytesIO(answer.content))


def rows_of(config, model, *where):
    """Rows of reservations' or payments' database."""
    engine = create_db_engine(config["DB_URIS"]["reservations" if model is Reservation else "payments"])
    with Session(engine) as session:
        rows = list(session.scalars(select(model).where(*where)))
    engine.dispose()
    return rows


def every_row(config):
    """Every row of every service's database, as text."""
    return "\n".join(database_text(uri)[1] for uri in config["DB_URIS"].values())


def test_a_guest_takes_her_data_away_then_deletes_the_account_and_nothing_of_her_is_left(
        containers, saga_config, bank):
    ada, ada_tokens = guest_client(saga_config, ADA)
    grace, _ = guest_client(saga_config, GRACE)
    stay = book(ada, "ada-1")
    book(grace, "grace-1")
    held = hold(ada, "ada-2").json()["id"]  # a hold never paid
    ada_id = ada.get("/api/v1/me").json()["id"]

    # -- her data, taken away
    started = ada.post("/api/v1/me/export")
    assert started.status_code == 202 and started.json()["status"] == "preparing"
    archive = downloaded(ada, started.json()["id"])
    files = {name: archive.read(name) for name in archive.namelist()}
    assert set(files) == {"README.txt", "account.json", "emails.json", "reservations.json", "payments.json",
                          f"confirmations/{stay}.pdf"}
    assert json.loads(files["account.json"])["email"] == ADA["email"]
    mine = {r.id for r in rows_of(saga_config, Reservation, Reservation.user_id == ada_id)}
    assert {r["id"] for r in json.loads(files["reservations.json"])} == mine == {stay, held}
    payments = {p.id for p in rows_of(saga_config, Payment, Payment.user_id == ada_id)}
    assert {p["id"] for p in json.loads(files["payments.json"])["payments"]} == payments and payments
    assert ADA["full_name"] in pdf_text(files[f"confirmations/{stay}.pdf"])
    everything = "\n".join(pdf_text(content) if name.endswith(".pdf") else content.decode()
                           for name, content in files.items())
    assert GRACE["email"] not in everything and GRACE["full_name"] not in everything
    assert VISA not in everything and not list(card_numbers(everything)) and "argon2" not in everything
    assert '"last4": "4242"' in files["payments.json"].decode()
    announced = wait_for_message(saga_config["MAIL_DIR"], lambda m: m["Subject"] == "Your Booking data is ready")
    assert announced["To"] == ADA["email"]
    assert f"/account/exports/{started.json()['id']}" in announced.get_body(("plain",)).get_content()
    # someone else's export is as unknown as a missing one
    assert grace.get(f"/api/v1/me/exports/{started.json()['id']}").status_code == 404
    assert grace.get("/api/v1/me/exports").json() == {"exports": []}

    # -- deleting: the password first, and no stay to come
    wrong = ada.delete("/api/v1/me", json={"password": "not my password at all"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "WRONG_PASSWORD"
    refused = ada.delete("/api/v1/me", json={"password": PASSWORD})
    assert refused.status_code == 409 and refused.json()["error"] == "STAYS_TO_COME"
    assert [r["id"] for r in refused.json()["details"]["reservations"]] == [stay]
    assert ada.post(f"/api/v1/reservations/{stay}/cancel").status_code == 200
    deleted = ada.delete("/api/v1/me", json={"password": PASSWORD})
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True, deleted.text
    goodbye = wait_for_message(saga_config["MAIL_DIR"], lambda m: m["Subject"] == "Your Booking account is deleted")
    assert goodbye["To"] == ADA["email"] and "Hello Ada Lovelace" in goodbye.get_body(("plain",)).get_content()

    # -- its tokens are refused by every service, and it cannot log in
    def refused_everywhere():
        assert ada.get("/api/v1/me").status_code == 401
        assert ada.get("/api/v1/reservations").status_code == 401
        with ClusterRpcProxy(saga_config, context_data={"authorization": f"Bearer {ada_tokens['access_token']}"}) \
                as rpc:
            for call in (rpc.users.me, rpc.reservations.list_mine, lambda: rpc.payments.get("pay-x"),
                         lambda: rpc.search.partner_hotels()):
                # until a service has read the revocation, the token passes and the call gets
                # its own answer (payments refuses "pay-x" as no payment id): not refused yet
                try:
                    call()
                except Unauthorized:
                    continue
                except Exception as answer:
                    raise AssertionError(f"not refused yet: {answer!r}") from answer
                raise AssertionError("not refused yet: answered")
    eventually(refused_everywhere, timeout=15 + REVOCATIONS_MAX_AGE)
    refresh = ada.post("/oauth/token", data={"grant_type": "refresh_token",
                                             "refresh_token": ada_tokens["refresh_token"]})
    assert refresh.status_code == 400
    assert ada.post("/api/v1/auth/login", json={"email": ADA["email"], "password": PASSWORD}).status_code == 401

    # -- her name and address are in no row of any service's database
    def forgotten():
        left = every_row(saga_config)
        assert ADA["email"] not in left and ADA["full_name"] not in left
    eventually(forgotten)
    left = every_row(saga_config)
    assert GRACE["email"] in left  # the scan reads what is there
    assert status_of_hold(saga_config, held) == "cancelled"
    # the books are kept under the account's number, and still add up with the bank
    succeeded = rows_of(saga_config, Payment, Payment.status.in_(("succeeded", "refunded")))
    eventually(lambda: bank.balance()["net"] == sum(p.amount_minor - p.refunded_minor for p in succeeded))
    assert payments <= {p.id for p in succeeded}
    # the other guest is untouched
    assert grace.get("/api/v1/me").json()["email"] == GRACE["email"]
    assert len(grace.get("/api/v1/reservations").json()["items"]) == 1


def status_of_hold(config, reservation_id):
    [reservation] = rows_of(config, Reservation, Reservation.id == reservation_id)
    return reservation.status


def test_the_account_pages_export_and_delete_with_their_csrf_token(containers, saga_config):
    ada, _ = guest_client(saga_config, ADA)
    with Client(f"http://{saga_config['WEB_SERVER_ADDRESS']}") as browser:
        page = browser.get("/login")
        logged_in = browser.post("/login?next=/account", data={**form_of(page, "/login"), "email": ADA["email"],
                                                               "password": PASSWORD})
        assert logged_in.status_code == 303
        account = browser.get("/account")
        for action in ("/account/export", "/account/delete"):
            assert browser.post(action, data={"password": PASSWORD}).status_code == 403, action
        assert ada.get("/api/v1/me").status_code == 200  # nothing changed

        asked = browser.post("/account/export", data=form_of(account, "/account/export"))
        assert asked.status_code == 303 and asked.headers["Location"] == "/account#data"

        def listed():
            return "download</a>" in browser.get("/account").text
        eventually(listed, timeout=30)
        export_id = re.search(r'href="/account/exports/([0-9a-f]{32})"', browser.get("/account").text).group(1)
        zipped = browser.get(f"/account/exports/{export_id}")
        assert zipped.status_code == 200 and zipped.content.startswith(b"PK")

        page = browser.get("/account/delete")
        wrong = browser.post("/account/delete", data={**form_of(page, "/account/delete"), "password": "nope nope"})
        assert wrong.status_code == 403 and 'aria-invalid="true"' in wrong.text and "nope nope" not in wrong.text
        done = browser.post("/account/delete", data={**form_of(page, "/account/delete"), "password": PASSWORD})
        assert done.status_code == 303 and done.headers["Location"] == "/account/deleted"
        assert "Your account is deleted" in browser.get("/account/deleted").text
        assert browser.get("/account").status_code == 303  # logged out
    eventually(lambda: ada.get("/api/v1/me").status_code == 401)
