"""PaymentsService with worker_factory: its database a throwaway SQLite file, its bank
a fake that answers as told, `reservations`, `users`, `reports`, `mailer` and
`dispatch` mocks; and the card rules of booking.payments.schemas."""
import base64
import re
from datetime import timedelta
from types import SimpleNamespace

import nameko_sqlalchemy
import pytest
from nameko.containers import ServiceContainer
from nameko.rpc import Rpc
from nameko.testing.services import worker_factory
from nameko.testing.utils import get_extension
from nameko.utils import get_redacted_args
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from booking.kit.bank import BankTimedOut, Charge
from booking.kit.errors import BookingError, IdempotencyKeyReused, ValidationFailed
from booking.kit.mail import MailNotSent
from booking.kit.schemas import load
from booking.kit.tokens import MissingScope
from booking.payments.exceptions import (
    BankUnavailable,
    CardRefused,
    EmailNotVerified,
    NotPayable,
    PaymentDeclined,
    PaymentInProgress,
    PaymentPending,
)
from booking.payments.ledger import utcnow
from booking.payments.models import Payment
from booking.payments.schemas import CardSchema, card_brand, luhn_valid
from booking.payments.service import PaymentsService
from tests.unit.recorded import dispatched, outbox_of
from tests.unit.test_holds import migrated_engine
from tests.unit.test_users_service import calling_as

NUMBER, CVC = "4242424242424242", "987"
CARD = {"number": NUMBER, "exp_month": 12, "exp_year": utcnow().year + 2, "cvc": CVC, "holder": "Ada Lovelace"}
OTHER_CARD = {**CARD, "number": "5555555555554444"}
HELD = {"id": "BKAAAA0001", "status": "held", "user_id": 7, "hotel_name": "Le Petit Paris",
        "total": {"amount": "300.00", "currency": "EUR"}}
ADA = calling_as("user:7", "account", "bookings")
RESERVATIONS_SERVICE = calling_as("client:reservations", "payments:read", "payments:refund", "payments:charge",
                                  client_id="reservations")


class FakeBank:
    """The bank client as the service uses it: answers `charge` with `charge_answer` and
    `find_charge` with `found`, or raises BankUnavailable when told it is down; records
    every call as (method, arguments)."""

    def __init__(self):
        self.charge_answer, self.found = Charge("succeeded", "ch_1"), None
        self.charge_down = self.charge_fails = self.find_down = False
        self.refuses_cards = self.refuses_at_charge = False
        self.while_charging = None  # what else happens while a charge is on its way
        self.calls = []

    def tokenize(self, card):
        self.calls.append(("tokenize", card))
        if self.refuses_cards:
            raise CardRefused(details={"card": "invalid_number"})
        return {"id": "tok_1", "card": {"brand": "visa", "last4": card["number"][-4:],
                                        "exp_month": card["exp_month"], "exp_year": card["exp_year"]}}

    def charge(self, **request):
        self.calls.append(("charge", request))
        if self.while_charging:
            self.while_charging()
        if self.charge_down:  # no answer: the request may have reached the bank or not
            raise BankTimedOut()
        if self.charge_fails:  # the bank answered that it failed (5xx)
            raise BankUnavailable()
        if self.refuses_at_charge:
            raise CardRefused(details={"card": "token_used"})
        return self.charge_answer

    def find_charge(self, idempotency_key):
        self.calls.append(("find_charge", idempotency_key))
        if self.find_down:
            raise BankUnavailable()
        return self.found

    def refund(self, *, charge_id, idempotency_key, amount_minor=None):
        if getattr(self, "refund_down", False):
            raise BankUnavailable()
        self.calls.append(("refund", {"charge_id": charge_id, "idempotency_key": idempotency_key,
                                      **({"amount_minor": amount_minor} if amount_minor is not None else {})}))
        return {"id": "re_1", "charge": charge_id, "status": "succeeded"}

    def made(self, method):
        return [arguments for name, arguments in self.calls if name == method]


@pytest.fixture
def db(tmp_path):
    engine = migrated_engine(tmp_path, "payments")
    yield SimpleNamespace(get_session=sessionmaker(engine, class_=nameko_sqlalchemy.database.Session))
    engine.dispose()


@pytest.fixture
def bank():
    return FakeBank()


def worker(db, bank, caller=ADA, require_verified_email=False):
    config = {"BANK_TIMEOUT": 1, "REQUIRE_VERIFIED_EMAIL": require_verified_email}
    service = worker_factory(PaymentsService, db=db, bank=bank, caller=caller, outbox=outbox_of(PaymentsService),
                             config=config)
    service.reservations.get.return_value = HELD
    service.users.get.return_value = {"id": 7, "email": "ada@example.com", "full_name": "Ada Lovelace",
                                      "deleted": False}
    service.reports.render.return_value = {"filename": "receipt.pdf", "content_type": "application/pdf",
                                           "content_base64": base64.b64encode(b"%PDF-1.7 a receipt").decode()}
    return service


@pytest.fixture
def payments(db, bank):
    return worker(db, bank)


def pay(service, card=CARD, key="key-1"):
    return service.pay(reservation_id="BKAAAA0001", card=card, idempotency_key=key)


def declined(service, card=CARD, key="key-1"):
    """The PaymentDeclined that paying raises, as (http status, details)."""
    with pytest.raises(PaymentDeclined) as refusal:
        pay(service, card, key)
    return refusal.value.http_status, refusal.value.details


def statuses(db):
    with db.get_session() as session:
        return [payment.status for payment in session.scalars(select(Payment).order_by(Payment.created_at))]


def test_a_good_card_pays_the_reservation(payments, bank):
    answer = pay(payments)

    assert (answer["status"], answer["reservation_id"], answer["bank_reference"]) == (
        "succeeded", "BKAAAA0001", "ch_1")
    assert answer["amount"] == {"amount": "300.00", "currency": "EUR"}
    assert answer["card"] == {"brand": "visa", "last4": "4242"}
    payments.reservations.get.assert_called_once_with("BKAAAA0001")
    assert bank.made("charge") == [{"amount_minor": 30000, "currency": "EUR", "source": "tok_1",
                                    "reference": "BKAAAA0001", "description": "Booking BKAAAA0001",
                                    "idempotency_key": answer["id"]}]


def test_with_require_verified_email_an_unverified_guest_cannot_pay_and_nothing_is_charged(db, bank):
    payments = worker(db, bank, require_verified_email=True)
    payments.users.get.return_value = {"id": 7, "email": "ada@example.com", "email_verified": False}

    with pytest.raises(EmailNotVerified) as refusal:
        pay(payments)
    assert (refusal.value.http_status, refusal.value.code) == (403, "EMAIL_NOT_VERIFIED")
    payments.users.get.assert_called_once_with(7)
    assert bank.made("charge") == [] and statuses(db) == []


def test_with_require_verified_email_a_verified_guest_pays_and_without_it_users_is_not_asked(db, bank):
    verified = worker(db, bank, require_verified_email=True)
    verified.users.get.return_value = {"id": 7, "email": "ada@example.com", "email_verified": True}
    assert pay(verified)["status"] == "succeeded"

    unchecked = worker(db, bank)
    assert pay(unchecked, key="key-2")["status"] == "succeeded"
    unchecked.users.get.assert_not_called()


def test_a_good_card_announces_the_payment_once(payments):
    answer = pay(payments)

    assert dispatched(payments) == [{
        "payment_id": answer["id"], "reservation_id": "BKAAAA0001", "user_id": 7, "status": "succeeded",
        "amount_minor": 30000, "refunded_minor": 0, "currency": "EUR", "failure_code": None,
        "purpose": "booking"}]


def test_no_stored_value_is_the_card_number_or_the_cvc(payments, db, bank):
    pay(payments)
    bank.charge_answer = Charge("declined", "ch_2", "card_declined")
    declined(payments, OTHER_CARD, key="key-2")

    with db.get_session() as session:
        rows = [row._asdict() for row in session.execute(select(Payment.__table__))]
    assert [(row["card_brand"], row["card_last4"], row["status"]) for row in rows] == [
        ("visa", "4242", "succeeded"), ("mastercard", "4444", "failed")]
    texts = [str(value) for row in rows for value in row.values() if isinstance(value, (str, bytes, int))]
    assert not [text for text in texts if NUMBER in text or OTHER_CARD["number"] in text]
    # the CVC as a token of its own (a random id or a digest may hold the digits by chance)
    assert not [text for text in texts if re.search(rf"\b{CVC}\b", text)]
    assert not [column for column in Payment.__table__.columns.keys() if "number" in column or "cvc" in column]


def test_the_same_key_again_gives_the_same_payment_without_charging_again(payments, bank, db):
    first = pay(payments)

    assert pay(payments) == first

    assert len(bank.made("charge")) == 1
    assert len(dispatched(payments, "payment_succeeded")) == 1
    assert statuses(db) == ["succeeded"]


def test_the_same_key_with_another_card_is_refused(payments, bank, db):
    pay(payments)

    with pytest.raises(IdempotencyKeyReused) as refusal:
        pay(payments, OTHER_CARD)

    assert refusal.value.http_status == 422
    assert len(bank.made("charge")) == 1 and statuses(db) == ["succeeded"]


def test_a_declined_card_fails_the_payment_and_announces_it(payments, bank, db):
    bank.charge_answer = Charge("declined", "ch_2", "insufficient_funds")

    assert declined(payments) == (402, {"reason": "insufficient_funds"})

    assert statuses(db) == ["failed"]
    [event] = dispatched(payments, "payment_failed")
    assert (event["reservation_id"], event["status"], event["failure_code"]) == (
        "BKAAAA0001", "failed", "insufficient_funds")
    assert dispatched(payments, "payment_succeeded") == []
    assert declined(payments) == (402, {"reason": "insufficient_funds"})  # the same key: the same answer
    assert len(bank.made("charge")) == 1


def test_a_reservation_that_is_not_held_is_not_payable(payments, bank, db):
    payments.reservations.get.return_value = {**HELD, "status": "expired"}

    with pytest.raises(NotPayable) as refusal:
        pay(payments)

    assert (refusal.value.http_status, refusal.value.details) == (409, {"status": "expired"})
    assert bank.calls == [] and statuses(db) == []
    assert dispatched(payments) == []


def test_a_lost_answer_to_a_charge_that_went_through_is_settled_as_succeeded(payments, bank, db):
    bank.charge_down, bank.found = True, Charge("succeeded", "ch_9")

    answer = pay(payments)

    assert (answer["status"], answer["bank_reference"]) == ("succeeded", "ch_9")
    assert bank.made("find_charge") == [answer["id"]]
    assert len(dispatched(payments, "payment_succeeded")) == 1
    assert statuses(db) == ["succeeded"]


def test_a_card_the_bank_refuses_at_the_charge_fails_the_payment_at_once_and_keeps_the_hold(payments, bank, db):
    bank.refuses_at_charge = True

    with pytest.raises(CardRefused) as refusal:
        pay(payments)
    assert refusal.value.details == {"card": "token_used"}
    assert statuses(db) == ["failed"]  # not left pending for a sweep to release the hold
    assert dispatched(payments) == []  # a refusal is not a decline: the hold stays for another card
    payments.sweep()
    assert bank.made("find_charge") == [] and statuses(db) == ["failed"]

    with pytest.raises(CardRefused):  # the same key again: the same answer, nothing sent to the bank
        pay(payments)
    assert len(bank.made("charge")) == 1
    bank.refuses_at_charge = False
    assert pay(payments, key="key-2")["status"] == "succeeded"


def test_no_charge_found_right_after_a_lost_answer_stays_unknown_until_it_can_no_longer_land(payments, bank, db):
    """A request that timed out may still reach the bank after the look-up: "no
    charge" is not a decline until it can no longer land (two bank timeouts)."""
    bank.charge_down = True

    with pytest.raises(PaymentPending):
        pay(payments)
    assert statuses(db) == ["unknown"] and dispatched(payments) == []

    payments.sweep()  # still within the window
    assert statuses(db) == ["unknown"]

    attempted_long_ago(db)
    payments.sweep()
    assert statuses(db) == ["failed"]
    assert [event["failure_code"] for event in dispatched(payments, "payment_failed")] == ["not_charged"]


def test_a_charge_the_bank_answered_it_failed_is_declined_as_not_charged_at_once(payments, bank, db):
    bank.charge_fails = True

    assert declined(payments) == (402, {"reason": "not_charged"})

    assert statuses(db) == ["failed"]
    assert [event["failure_code"] for event in dispatched(payments, "payment_failed")] == ["not_charged"]


def test_a_charge_that_lands_after_the_look_up_is_found_by_the_next_look(payments, bank, db):
    bank.charge_down = True
    with pytest.raises(PaymentPending):
        pay(payments)

    bank.found = Charge("succeeded", "ch_late")  # the request reached the bank after all
    payments.sweep()

    assert statuses(db) == ["succeeded"]
    assert [event["status"] for event in dispatched(payments)] == ["succeeded"]


def test_when_the_bank_cannot_say_the_payment_is_pending_and_unknown(payments, bank, db):
    bank.charge_down = bank.find_down = True

    with pytest.raises(PaymentPending) as refusal:
        pay(payments)

    assert refusal.value.http_status == 503
    assert statuses(db) == ["unknown"]
    assert dispatched(payments) == []
    with pytest.raises(PaymentPending):
        pay(payments)
    assert len(bank.made("charge")) == 1


def test_for_reservation_settles_an_unknown_payment_once_the_bank_answers(payments, bank, db):
    bank.charge_down = bank.find_down = True
    with pytest.raises(PaymentPending):
        pay(payments)
    sweeper = worker(db, bank, RESERVATIONS_SERVICE)

    with pytest.raises(PaymentPending):  # the bank still cannot say
        pay(payments)
    assert [payment["status"] for payment in sweeper.for_reservation("BKAAAA0001")] == ["unknown"]
    bank.find_down, bank.found = False, Charge("succeeded", "ch_9")
    [settled] = sweeper.for_reservation("BKAAAA0001")

    assert (settled["status"], settled["bank_reference"]) == ("succeeded", "ch_9")
    assert sweeper.for_reservation("BKAAAA0001") == [settled]
    assert len(bank.made("find_charge")) == 4  # each pay and each look asked the bank
    assert len(dispatched(sweeper, "payment_succeeded")) == 1
    assert pay(payments) == settled


def test_a_retry_whose_twin_paid_while_it_asked_reservations_gets_the_twins_answer(db, bank):
    """The first try's answer was lost and the guest sent again: the retry found no
    payment with its key, then, while it asked reservations, the first try paid and
    the reservation was confirmed."""
    first_try, retry = worker(db, bank), worker(db, bank)
    first_answer = []

    def first_try_pays_meanwhile(reservation_id):
        first_answer.append(pay(first_try))
        return {**HELD, "status": "confirmed"}
    retry.reservations.get.side_effect = first_try_pays_meanwhile

    assert [pay(retry)] == first_answer
    assert len(bank.made("charge")) == 1 and statuses(db) == ["succeeded"]
    assert len(dispatched(retry, "payment_succeeded")) == 1  # the first try's


class WorkerDied(BaseException):
    """What SIGKILL does to a worker half-way through a charge, as far as the ledger sees."""


def orphan(payments, bank, db):
    """A payment left pending by a worker that died while the bank charged the card."""
    def die():
        raise WorkerDied()
    bank.while_charging = die
    with pytest.raises(WorkerDied):
        pay(payments)
    bank.while_charging = None
    attempted_long_ago(db)


def attempted_long_ago(db):
    """Every payment's charge was sent an hour ago: it can no longer land."""
    with db.get_session() as session:
        an_hour_ago = utcnow() - timedelta(hours=1)
        session.execute(update(Payment).values(created_at=an_hour_ago, updated_at=an_hour_ago))
        session.commit()


def test_a_retry_of_a_payment_whose_worker_died_settles_it_with_the_bank(payments, bank, db):
    orphan(payments, bank, db)
    bank.found = Charge("succeeded", "ch_1")

    answer = pay(payments)

    assert (answer["status"], answer["bank_reference"]) == ("succeeded", "ch_1")
    assert len(bank.made("charge")) == 1 and bank.made("find_charge") == [answer["id"]]
    assert len(dispatched(payments, "payment_succeeded")) == 1


def test_the_timer_settles_a_payment_whose_worker_died_and_a_live_one_is_left_alone(payments, bank, db):
    orphan(payments, bank, db)
    bank.found = None  # the charge never reached the bank
    bank.while_charging = lambda: sweeper.sweep()  # a sweep during a live charge
    sweeper = worker(db, bank, RESERVATIONS_SERVICE)
    pay(payments, key="key-2")

    assert len(bank.made("find_charge")) == 1  # the orphan only
    assert statuses(db) == ["failed", "succeeded"]
    [failed] = dispatched(sweeper, "payment_failed")
    assert failed["failure_code"] == "not_charged"


def test_refund_needs_the_refund_scope(payments, bank):
    answer = pay(payments)

    with pytest.raises(MissingScope):
        payments.refund(answer["id"])

    assert bank.made("refund") == []


def test_refund_gives_the_money_back_once(payments, bank, db):
    answer = pay(payments)
    reservations = worker(db, bank, RESERVATIONS_SERVICE)

    refunded = reservations.refund(answer["id"])

    assert (refunded["status"], refunded["refunded"]) == ("refunded", {"amount": "300.00", "currency": "EUR"})
    assert bank.made("refund") == [{"charge_id": "ch_1", "idempotency_key": f"refund-{answer['id']}",
                                    "amount_minor": 30000}]
    [event] = dispatched(reservations, "payment_refunded")
    assert (event["payment_id"], event["refunded_minor"]) == (answer["id"], 30000)

    assert reservations.refund(answer["id"]) == refunded
    assert len(bank.made("refund")) == 1
    assert len(dispatched(reservations, "payment_refunded")) == 1


def test_a_cancelled_paid_reservation_is_refunded(payments, bank, db):
    answer = pay(payments)

    payments.refund_cancelled({"reservation_id": "BKAAAA0001", "status": "cancelled",
                               "reason": "cancelled_by_guest", "payment_id": answer["id"]})

    assert statuses(db) == ["refunded"]
    assert len(bank.made("refund")) == 1
    assert len(dispatched(payments, "payment_refunded")) == 1


def test_what_a_reservation_granted_is_refunded_once_however_its_events_come(payments, bank, db):
    answer = pay(payments)
    room_cancelled = {"reservation_id": "BKAAAA0001", "status": "confirmed", "payment_id": answer["id"],
                      "version": 2, "refund_minor": 12000}
    all_cancelled = {**room_cancelled, "status": "cancelled", "version": 3, "refund_minor": 25000}

    # each three times, the later one overtaking the earlier
    for event in (all_cancelled, room_cancelled, all_cancelled, room_cancelled, room_cancelled, all_cancelled):
        handler = payments.refund_cancelled if event["status"] == "cancelled" else payments.refund_changed
        handler(event)

    assert [refund["amount_minor"] for refund in bank.made("refund")] == [25000]
    assert statuses(db) == ["succeeded"]  # 50.00 of 300.00 kept: not refunded whole
    [event] = dispatched(payments, "payment_refunded")
    assert event["refunded_minor"] == 25000


def test_a_cheaper_change_then_a_cancellation_refund_in_two_steps(payments, bank, db):
    answer = pay(payments)

    payments.refund_changed({"reservation_id": "BKAAAA0001", "version": 2, "refund_minor": 5000})
    payments.refund_cancelled({"reservation_id": "BKAAAA0001", "version": 3, "refund_minor": 30000})
    payments.refund_changed({"reservation_id": "BKAAAA0001", "version": 2, "refund_minor": 5000})

    assert [(r["amount_minor"], r["idempotency_key"]) for r in bank.made("refund")] == [
        (5000, f"grant-5000-{answer['id']}"), (25000, f"grant-30000-{answer['id']}")]
    assert statuses(db) == ["refunded"]


def test_the_difference_of_a_change_is_charged_once_and_confirms_nothing(db, bank):
    reservations = worker(db, bank, RESERVATIONS_SERVICE)
    token = {"token": "tok_9abcdef", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": utcnow().year + 2,
             "holder": "Ada Lovelace"}

    answers = [reservations.charge_difference("BKAAAA0001", 7, 4500, "EUR", token, "change-chg_1")
               for _ in range(3)]

    assert answers[0] == answers[1] == answers[2]
    assert (answers[0]["status"], answers[0]["amount"], answers[0]["purpose"]) == (
        "succeeded", {"amount": "45.00", "currency": "EUR"}, "change-chg_1")
    assert [c["amount_minor"] for c in bank.made("charge")] == [4500]
    [event] = dispatched(reservations, "payment_succeeded")
    assert event["purpose"] == "change-chg_1"


def test_charging_a_difference_needs_the_charge_scope(payments, bank):
    with pytest.raises(MissingScope):
        payments.charge_difference("BKAAAA0001", 7, 4500, "EUR", {"token": "tok_9"}, "change-chg_1")
    assert bank.made("charge") == []


def test_a_cancelled_unpaid_reservation_refunds_nothing(payments, bank):
    payments.refund_cancelled({"reservation_id": "BKAAAA0001", "status": "cancelled",
                               "reason": "cancelled_by_guest", "payment_id": None})

    assert bank.made("refund") == []
    assert dispatched(payments) == []


def test_the_receipt_is_sent_once_with_only_the_last_four_digits(payments):
    answer = pay(payments)
    [event] = dispatched(payments, "payment_succeeded")

    payments.send_receipt(event)
    payments.send_receipt(event)

    payments.users.get.assert_called_once_with(7)
    payments.mailer.send.assert_called_once()
    to, subject, text, html = payments.mailer.send.call_args.args
    assert (to, subject) == ("ada@example.com", "Your receipt: 300.00 EUR for booking BKAAAA0001")
    assert "Visa ending 4242" in text and "Visa ending 4242" in html
    assert answer["bank_reference"] in text
    assert NUMBER not in repr(payments.mailer.send.call_args)
    assert NUMBER not in repr(payments.reports.render.call_args_list)  # nor in the PDF receipt


def test_a_receipt_whose_sender_died_or_failed_is_sent_by_a_later_sweep(payments, db):
    pay(payments)
    [event] = dispatched(payments, "payment_succeeded")
    payments.mailer.send.side_effect = WorkerDied()  # dies after claiming the receipt
    with pytest.raises(WorkerDied):
        payments.send_receipt(event)
    payments.mailer.send.side_effect = None

    payments.sweep()  # the claim is fresh: its worker may still be sending
    payments.mailer.send.assert_called_once()
    with db.get_session() as session:  # the lease runs out
        session.execute(update(Payment).values(receipt_claimed_at=utcnow() - timedelta(hours=1)))
        session.commit()
    payments.sweep()
    payments.sweep()

    assert payments.mailer.send.call_count == 2
    payments.send_receipt(event)  # a late redelivery finds it sent
    assert payments.mailer.send.call_count == 2


def test_a_receipt_the_mail_server_refused_is_sent_by_the_next_sweep(payments):
    pay(payments)
    [event] = dispatched(payments, "payment_succeeded")
    payments.mailer.send.side_effect = MailNotSent("the mail server is down")
    with pytest.raises(MailNotSent):
        payments.send_receipt(event)
    payments.mailer.send.side_effect = None

    payments.sweep()
    payments.sweep()

    assert payments.mailer.send.call_count == 2


def logged_arguments(method, **arguments):
    """The arguments of a call to `method` as nameko gives them to loggers and tracers."""
    container = ServiceContainer(PaymentsService, {"AMQP_URI": "memory://"})  # held: referred to weakly
    return get_redacted_args(get_extension(container, Rpc, method_name=method), **arguments)


def test_pay_keeps_the_card_out_of_logs():
    logged = logged_arguments("pay", reservation_id="BKAAAA0001", card=CARD, idempotency_key="key-1")

    assert logged == {"reservation_id": "BKAAAA0001", "card": "********", "idempotency_key": "key-1"}


def test_a_card_the_bank_refuses_leaves_no_payment_in_progress(payments, bank, db):
    bank.refuses_cards = True
    with pytest.raises(CardRefused):
        pay(payments)

    with pytest.raises(BookingError) as retry:
        pay(payments)

    assert not isinstance(retry.value, PaymentInProgress)
    assert "pending" not in statuses(db)


def test_a_sweep_during_a_charge_does_not_fail_a_payment_that_goes_through(payments, bank, db):
    sweeper = worker(db, bank, RESERVATIONS_SERVICE)
    bank.while_charging = lambda: sweeper.for_reservation("BKAAAA0001")  # the bank has not recorded it yet

    answer = pay(payments)

    assert answer["status"] == "succeeded"
    assert dispatched(sweeper, "payment_failed") == []


# -- the card rules ----------------------------------------------------------------


def card_problems(**changes):
    """The fields CardSchema complains about for CARD with `changes`; {} if it accepts it."""
    try:
        load(CardSchema(), {**CARD, **changes})
    except ValidationFailed as refusal:
        return refusal.details
    return {}


@pytest.mark.parametrize("number, valid", [
    ("4242424242424242", True), ("5555555555554444", True), ("378282246310005", True), ("79927398713", True),
    ("4242424242424241", False), ("4242424242424224", False), ("5555555555554440", False),
])
def test_luhn_tells_a_mistyped_number(number, valid):
    assert luhn_valid(number) is valid


@pytest.mark.parametrize("number, brand", [
    ("4242424242424242", "visa"), ("5555555555554444", "mastercard"), ("5105105105105100", "mastercard"),
    ("2223003122003222", "mastercard"), ("2720999999999996", "mastercard"), ("2721000000000005", "card"),
    ("378282246310005", "amex"), ("371449635398431", "amex"), ("6011111111111117", "card"),
])
def test_the_brand_comes_from_the_first_digits(number, brand):
    assert card_brand(number) == brand


@pytest.mark.parametrize("number", [NUMBER, "4242 4242 4242 4242", "4242-4242-4242-4242", "378282246310005"])
def test_a_valid_card_is_accepted(number):
    assert card_problems(number=number) == {}


@pytest.mark.parametrize("number", [
    "4242424242424241", "4242 4242 4242 424x", "42424242424", "4" * 24,
    "４２４２４２４２４２４２４２４２",  # full-width digits: str.isdigit takes them, the bank does not
])
def test_a_number_that_is_not_a_card_is_refused(number):
    assert list(card_problems(number=number)) == ["number"]


def test_an_expired_card_is_refused_and_this_months_is_not():
    today = utcnow()
    last_month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)

    assert card_problems(exp_year=last_month[0], exp_month=last_month[1]) == {
        "exp_month": ["The card has expired."]}
    assert card_problems(exp_year=today.year, exp_month=today.month) == {}


@pytest.mark.parametrize("cvc", [
    "12", "12345", "98a", "", " 987",
    "987\n",  # `$` would let a trailing newline through
])
def test_a_cvc_that_is_not_three_or_four_digits_is_refused(cvc):
    assert list(card_problems(cvc=cvc)) == ["cvc"]


def test_a_granted_refund_e_mails_its_credit_note_once(payments, bank, db):
    answer = pay(payments)
    event = {"reservation_id": "BKAAAA0001", "status": "cancelled", "version": 2, "refund_minor": 12345,
             "hotel_name": "Le Petit Paris"}

    payments.refund_cancelled(event)
    payments.refund_cancelled(event)
    payments.sweep()

    [(template, data)] = [c.args for c in payments.reports.render.call_args_list if c.args[0] == "credit_note"]
    assert (data["refund"], data["paid"], data["card_last4"], data["hotel_name"]) == (
        "123.45", "300.00", "4242", "Le Petit Paris")
    assert data["description"] == "Refund on the cancellation of booking BKAAAA0001"
    notes = [c for c in payments.mailer.send.call_args_list if c.kwargs["key"].startswith("credit-note-")]
    assert len(notes) == 1 and notes[0].kwargs["key"] == f"credit-note-grant-12345-{answer['id']}"
    assert notes[0].args[1] == "Your credit note: 123.45 EUR refunded for booking BKAAAA0001"


def test_a_refund_the_bank_did_not_make_is_made_by_the_sweep_and_never_planned_twice(payments, bank, db):
    pay(payments)
    event = {"reservation_id": "BKAAAA0001", "status": "cancelled", "version": 2, "refund_minor": 10000}
    bank.refund_down = True
    with pytest.raises(BankUnavailable):
        payments.refund_cancelled(event)
    bank.refund_down = False

    payments.sweep()
    payments.refund_cancelled(event)  # redelivered: planned already, and made
    payments.sweep()

    assert [refund["amount_minor"] for refund in bank.made("refund")] == [10000]
    [event] = dispatched(payments, "payment_refunded")
    assert event["refunded_minor"] == 10000


# -- a guest's data ------------------------------------------------------------------------------

def test_a_guests_part_of_an_export_has_their_payments_and_no_card_number(payments, db, bank):
    paid = pay(payments)
    users = worker(db, bank, calling_as("client:users", "reservations:read", "payments:read", client_id="users"))

    part = users.guest_data(7)

    assert [p["id"] for p in part["payments"]] == [paid["id"]] and part["refunds"] == []
    assert part["payments"][0]["card"] == {"brand": "visa", "last4": CARD["number"][-4:]}
    assert CARD["number"] not in repr(part)
    assert users.guest_data(8) == {"payments": [], "refunds": []}
    with pytest.raises(MissingScope):
        payments.guest_data(7)


def test_a_deleted_account_gets_no_receipt_and_it_is_not_tried_again(payments, db):
    paid = pay(payments)
    payments.users.get.return_value = {"id": 7, "email": "deleted-7@deleted.invalid",
                                       "full_name": "(deleted account)", "deleted": True}
    payments.send_receipt({"payment_id": paid["id"]})
    payments.mailer.send.assert_not_called()
    payments.sweep()
    payments.mailer.send.assert_not_called()
