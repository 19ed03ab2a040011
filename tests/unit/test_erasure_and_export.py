"""Deleting an account and taking one's data away, in UsersService with worker_factory
(as tests/unit/test_account_flows.py): reservations and payments are mocks, which
answer as those services do; e-mails are the `mailer` mock's calls."""
# ruff: noqa: F811 (fixtures imported by name come back as test arguments)
import base64
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from booking.users.exceptions import ExportExpired, ExportNotFound, StaysToCome, TooManyRequests, WrongPassword
from booking.users.models import AccountToken, DataExport, RequestCount, SentEmail, User
from tests.unit.recorded import dispatched
from tests.unit.test_account_flows import deliver_mail, logs_in, mails, stored
from tests.unit.test_users_service import PASSWORD, calling_as, db, register_ada, worker  # noqa: F401

STAY = {"id": "BK7F3K9QX2", "hotel_name": "Hotel Limmat", "check_in": "2027-01-11", "check_out": "2027-01-13"}
PDF = b"%PDF-1.7 the confirmation of Ada Lovelace"
RESERVATIONS_PART = {"reservations": [{"id": "BK7F3K9QX2", "status": "confirmed", "hotel_name": "Hotel Limmat"}],
                     "confirmations": {"BK7F3K9QX2": base64.b64encode(PDF).decode()}}
PAYMENTS_PART = {"payments": [{"id": "pay-1", "reservation_id": "BK7F3K9QX2", "card": {"brand": "visa",
                                                                                      "last4": "4242"}}],
                 "refunds": []}


@pytest.fixture
def ada(db):
    """Ada's account, welcomed, with a reset link asked for: rows of hers in every table."""
    users = worker(db)
    user = register_ada(users)
    users.send_welcome({"user_id": user["id"]})
    users.request_password_reset(email="ada@example.com", client_address="10.0.0.1")
    deliver_mail(users)
    me = worker(db, calling_as(f"user:{user['id']}", "account"))
    me.reservations.stays_to_come.return_value = []
    return me


def everything_stored(db):
    """Every row of users' tables, as text."""
    return repr([stored(db, model) for model in (User, SentEmail, AccountToken, RequestCount, DataExport)])


# -- deleting the account -------------------------------------------------------------------

def test_deleting_needs_the_password_and_changes_nothing_without_it(ada, db):
    with pytest.raises(WrongPassword) as refusal:
        ada.delete_account(password="not my password at all")
    assert list(refusal.value.details) == ["password"]
    assert logs_in(db, PASSWORD) and dispatched(ada, "user_deleted") == []


def test_an_account_with_a_stay_to_come_is_not_deleted_and_is_told_which(ada, db):
    ada.reservations.stays_to_come.return_value = [STAY]

    with pytest.raises(StaysToCome) as refusal:
        ada.delete_account(password=PASSWORD)

    assert refusal.value.http_status == 409 and refusal.value.details == {"reservations": [STAY]}
    ada.reservations.stays_to_come.assert_called_once_with(ada.me()["id"])
    assert logs_in(db, PASSWORD) and "ada@example.com" in everything_stored(db)
    for _ in range(5):  # a right password counts as no wrong one, however often the stays refuse
        with pytest.raises(StaysToCome):
            ada.delete_account(password=PASSWORD)


def test_a_deleted_account_keeps_no_name_address_or_password_and_cannot_log_in(ada, db):
    user_id = ada.me()["id"]
    assert "ada@example.com" in everything_stored(db) and "Ada Lovelace" in everything_stored(db)

    assert ada.delete_account(password=PASSWORD) == {"deleted": True}
    deliver_mail(ada)

    assert not logs_in(db, PASSWORD)
    [(to, subject, text)] = mails(ada, "ada@example.com")[-1:]
    assert subject == "Your Booking account is deleted" and "Hello Ada Lovelace" in text
    left = everything_stored(db)
    assert "ada@example.com" not in left and "Ada Lovelace" not in left
    assert stored(db, AccountToken) == [] and [row["event"] for row in stored(db, SentEmail)] == [{}] * 3
    me = ada.me()
    assert (me["deleted"], me["email"], me["full_name"]) == (True, f"deleted-{user_id}@deleted.invalid",
                                                              "(deleted account)")
    # its events are forgotten (user_registered held the name and address), but the one that says so
    assert [event["user_id"] for event in dispatched(ada)] == [user_id, user_id]
    assert dispatched(ada, "user_deleted") == [{"user_id": user_id, "credentials_version": 1}]


def test_deleting_again_answers_the_same_and_sends_nothing_more(ada):
    ada.delete_account(password=PASSWORD)
    deliver_mail(ada)
    assert ada.delete_account(password=PASSWORD) == {"deleted": True}
    deliver_mail(ada)
    assert len(dispatched(ada, "user_deleted")) == 1 and len(mails(ada, "ada@example.com")) == 1


def test_a_deleted_account_gets_no_more_e_mails(ada):
    ada.delete_account(password=PASSWORD)
    deliver_mail(ada)
    sent = len(mails(ada))
    ada.send_confirmation({"reservation_id": "BK7F3K9QX2", "user_id": ada.me()["id"]})  # an event come late
    assert len(mails(ada)) == sent
    ada.reservations.confirmation_pdf.assert_not_called()


# -- taking one's data away -------------------------------------------------------------------

def prepared(me):
    """Start an export and let its event be handled, as the relay would."""
    me.reservations.guest_data.return_value = RESERVATIONS_PART
    me.payments.guest_data.return_value = PAYMENTS_PART
    started = me.start_export()
    for event in dispatched(me, "export_requested"):
        me.prepare_export(event)
    deliver_mail(me)
    return started


def test_an_export_is_one_zip_of_each_services_part_announced_by_e_mail(ada):
    started = prepared(ada)
    assert started["status"] == "preparing"

    kept = ada.export(started["id"])
    assert kept["status"] == "ready" and kept["filename"].startswith("booking-data-")
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(kept["content_base64"])))
    assert sorted(archive.namelist()) == ["README.txt", "account.json", "confirmations/BK7F3K9QX2.pdf",
                                          "emails.json", "payments.json", "reservations.json"]
    account = json.loads(archive.read("account.json"))
    assert (account["email"], account["full_name"]) == ("ada@example.com", "Ada Lovelace")
    assert "password_hash" not in archive.read("account.json").decode()
    assert [mail["kind"] for mail in json.loads(archive.read("emails.json"))] == ["welcome", "password_reset"]
    assert json.loads(archive.read("payments.json")) == PAYMENTS_PART
    assert archive.read("confirmations/BK7F3K9QX2.pdf") == PDF
    user_id = ada.me()["id"]
    ada.reservations.guest_data.assert_called_once_with(user_id)
    ada.payments.guest_data.assert_called_once_with(user_id)
    [(_, subject, text)] = mails(ada, "ada@example.com")[-1:]
    assert subject == "Your Booking data is ready" and f"https://booking.test/account/exports/{started['id']}" in text


def test_an_export_event_delivered_again_makes_nothing_more(ada):
    started = prepared(ada)
    ada.prepare_export({"user_id": ada.me()["id"], "export_id": started["id"]})
    assert ada.reservations.guest_data.call_count == 1 and len(mails(ada)) == 1


def test_someone_elses_export_is_not_found(ada, db):
    started = prepared(ada)
    grace = register_ada(worker(db), email="grace@example.com")
    with pytest.raises(ExportNotFound):
        worker(db, calling_as(f"user:{grace['id']}", "account")).export(started["id"])
    with pytest.raises(ExportNotFound):
        ada.export("0" * 32)


def test_an_export_expires_after_24_hours_and_its_content_is_dropped(ada, db):
    started = prepared(ada)
    with db.get_session() as session:
        session.execute(update(DataExport).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    ada.send_unsent()  # the sweep
    with pytest.raises(ExportExpired):
        ada.export(started["id"])
    assert [(row["status"], row["content"]) for row in stored(db, DataExport)] == [("expired", None)]


def test_exports_are_limited_per_account(ada):
    for _ in range(5):
        ada.start_export()
    with pytest.raises(TooManyRequests):
        ada.start_export()


def test_deleting_the_account_deletes_its_exports(ada, db):
    prepared(ada)
    ada.delete_account(password=PASSWORD)
    assert stored(db, DataExport) == []
