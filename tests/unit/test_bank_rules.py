"""The sandbox bank's plain rules: cards, outcomes, request bodies, tokens; no server."""
import json
from datetime import date

import pytest

from booking.devstack.bank import (
    BANK_FAILS,
    SUCCEEDED,
    BankError,
    Card,
    TokenVault,
    body_hash,
    brand_of,
    card_number,
    charge_order,
    check_card,
    error_response,
    is_expired,
    loggable,
    luhn_valid,
    outcome_of,
    refund_order,
)

TODAY = date(2026, 11, 22)
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123", "holder": "Ada Lovelace"}
CHARGE = {"amount": 12500, "currency": "EUR", "card": CARD, "reference": "BK-7Q2M", "description": "2 nights"}


def refusal(call, *args):
    """The BankError that `call(*args)` raises, as (status, code, param)."""
    with pytest.raises(BankError) as raised:
        call(*args)
    error = raised.value.error
    return raised.value.status, error["code"], error.get("param")


@pytest.mark.parametrize("number", [
    "4242424242424242", "4000000000000002", "4000000000009995", "4000000000000119",
    "5555555555554444", "378282246310005", "6011111111111117", "79927398713",
])
def test_real_card_numbers_pass_the_luhn_check(number):
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4242424242424241", "4242424242424224", "5555555555554440", "1", ""])
def test_a_mistyped_number_fails_the_luhn_check(number):
    assert not luhn_valid(number)


@pytest.mark.parametrize("number, brand", [
    ("4242424242424242", "visa"), ("4000056655665556", "visa"),
    ("5555555555554444", "mastercard"), ("5105105105105100", "mastercard"), ("2223003122003222", "mastercard"),
    ("378282246310005", "amex"), ("371449635398431", "amex"),
    ("6011111111111117", "other"), ("3566002020360505", "other"), ("2720999999999996", "mastercard"),
    ("2721000000000005", "other"), ("5600000000000003", "other"),
])
def test_the_brand_comes_from_the_first_digits(number, brand):
    assert brand_of(number) == brand


def test_spaces_in_a_card_number_are_ignored():
    assert card_number("4242 4242 4242 4242") == "4242424242424242"


@pytest.mark.parametrize("number", [
    "4242-4242-4242-4242", "4242424242424241", "42424242424", "4" + "0" * 18 + "04",
    "４２４２４２４２４２４２４２４２",  # full-width digits: digits to str.isdigit, not to a bank
    "", None, 4242424242424242,
])
def test_anything_but_a_valid_card_number_is_invalid_number(number):
    assert refusal(card_number, number) == (400, "invalid_number", "card[number]")


def test_a_card_is_valid_until_the_end_of_its_expiry_month():
    assert not is_expired(11, 2026, TODAY)
    assert not is_expired(1, 2027, TODAY)
    assert is_expired(10, 2026, TODAY)
    assert is_expired(12, 2025, TODAY)


def test_a_valid_card_is_read_whole_without_showing_its_secrets():
    card = check_card({**CARD, "number": "4242 4242 4242 4242", "holder": " Ada Lovelace "}, TODAY)

    assert card == Card("4242424242424242", 12, 2030, "123", "Ada Lovelace")
    assert (card.brand, card.last4) == ("visa", "4242")
    assert "4242424242424242" not in repr(card) and "123" not in repr(card)


@pytest.mark.parametrize("change, code", [
    ({"number": "4242424242424241"}, "invalid_number"),
    ({"exp_month": 10, "exp_year": 2026}, "invalid_expiry"),
    ({"exp_month": 13}, "invalid_expiry"),
    ({"exp_month": "12"}, "invalid_expiry"),
    ({"exp_year": 30}, "invalid_expiry"),
    ({"exp_year": True}, "invalid_expiry"),
    ({"cvc": "12"}, "invalid_cvc"),
    ({"cvc": "12345"}, "invalid_cvc"),
    ({"cvc": 123}, "invalid_cvc"),
    ({"cvc": "12a"}, "invalid_cvc"),
    ({"holder": "  "}, "invalid_holder"),
    ({"holder": None}, "invalid_holder"),
    ({"pin": "0000"}, "parameter_unknown"),
])
def test_an_invalid_card_is_refused_with_the_code_of_what_is_wrong(change, code):
    status, refused_code, _ = refusal(check_card, {**CARD, **change}, TODAY)

    assert (status, refused_code) == (400, code)


@pytest.mark.parametrize("number, outcome", [
    ("4242424242424242", SUCCEEDED), ("4000000000000002", "card_declined"),
    ("4000000000009995", "insufficient_funds"), ("4000000000000119", BANK_FAILS),
    ("5555555555554444", SUCCEEDED),
])
def test_the_test_cards_decide_the_outcome(number, outcome):
    assert outcome_of(number) == outcome


def test_the_body_hash_ignores_key_order_and_spacing_but_nothing_else():
    first = json.loads('{"amount": 1000, "currency": "EUR", "card": {"number": "4242", "cvc": "123"}}')
    same = json.loads('{"card":{"cvc":"123","number":"4242"},"currency":"EUR","amount":1000}')

    assert body_hash(first) == body_hash(same)
    assert body_hash(first) != body_hash({**first, "amount": 1001})
    assert body_hash(first) != body_hash({**first, "card": {"number": "4242", "cvc": "124"}})
    assert body_hash(first) != body_hash({**first, "description": ""})
    assert len(body_hash(first)) == 32


def test_a_charge_with_a_card_or_a_token_is_read_with_the_currency_in_capitals():
    with_card = charge_order({**CHARGE, "currency": "eur"}, TODAY)
    without_card = {name: value for name, value in CHARGE.items() if name not in ("card", "description")}
    with_token = charge_order({**without_card, "source": "tok_1"}, TODAY)

    assert (with_card.amount, with_card.currency, with_card.reference) == (12500, "EUR", "BK-7Q2M")
    assert (with_card.card.last4, with_card.source) == ("4242", None)
    assert (with_token.source, with_token.card, with_token.description) == ("tok_1", None, "")


@pytest.mark.parametrize("change, code, param", [
    ({"amount": 0}, "parameter_invalid", "amount"),
    ({"amount": -5}, "parameter_invalid", "amount"),
    ({"amount": 12.5}, "parameter_invalid", "amount"),
    ({"amount": "12500"}, "parameter_invalid", "amount"),
    ({"amount": True}, "parameter_invalid", "amount"),
    ({"amount": None}, "parameter_invalid", "amount"),
    ({"amount": 100_000_000}, "amount_too_large", "amount"),
    ({"currency": "EURO"}, "invalid_currency", "currency"),
    ({"currency": None}, "invalid_currency", "currency"),
    ({"reference": ""}, "parameter_invalid", "reference"),
    ({"reference": None}, "parameter_missing", "reference"),
    ({"reference": 42}, "parameter_invalid", "reference"),
    ({"description": ["2 nights"]}, "parameter_invalid", "description"),
    ({"source": "tok_1"}, "parameter_missing", "source"),
    ({"card": None}, "parameter_missing", "source"),
    ({"card": "4242424242424242"}, "parameter_missing", "card"),
    ({"card": {**CARD, "cvc": "1"}}, "invalid_cvc", "card[cvc]"),
    ({"customer": "ada"}, "parameter_unknown", "customer"),
])
def test_an_invalid_charge_is_refused_saying_which_parameter(change, code, param):
    body = {name: value for name, value in {**CHARGE, **change}.items() if value is not None}

    assert refusal(charge_order, body, TODAY) == (400, code, param)


def test_a_refund_is_of_an_amount_or_of_the_rest():
    assert refund_order({"charge": "ch_1", "amount": 500}) == ("ch_1", 500)
    assert refund_order({"charge": "ch_1"}) == ("ch_1", None)
    assert refusal(refund_order, {"charge": "ch_1", "amount": 0}) == (400, "parameter_invalid", "amount")
    assert refusal(refund_order, {"amount": 500}) == (400, "parameter_missing", "charge")
    assert refusal(refund_order, {"charge": "ch_1", "reason": "x"}) == (400, "parameter_unknown", "reason")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_token_gives_its_card_once():
    vault = TokenVault(lifetime=900, clock=Clock())
    card = check_card(CARD, TODAY)
    token = vault.keep(card)

    assert token.startswith("tok_") and token != vault.keep(card)
    assert vault.take(token) == card
    assert refusal(vault.take, token) == (400, "invalid_token", "source")
    assert refusal(vault.take, "tok_never_issued") == (400, "invalid_token", "source")


def test_a_token_expires_after_its_lifetime():
    clock = Clock()
    vault = TokenVault(lifetime=900, clock=clock)
    fresh, stale = vault.keep(check_card(CARD, TODAY)), vault.keep(check_card(CARD, TODAY))

    clock.now += 899
    assert vault.take(fresh).last4 == "4242"
    clock.now += 1
    assert refusal(vault.take, stale) == (400, "invalid_token", "source")


def test_an_unexpected_error_answers_500_and_logs_where_but_not_what(caplog):
    try:
        {}[CARD["number"]]
    except KeyError as error:
        response = error_response(error)

    assert response.status_code == 500
    assert json.loads(response.get_data()) == {"error": {"type": "api_error",
                                                         "message": "The bank had an internal error."}}
    assert "Unexpected KeyError" in caplog.text and "test_bank_rules.py" in caplog.text
    assert CARD["number"] not in caplog.text


@pytest.mark.parametrize("value, shown", [
    ("BK-7Q2M", "BK-7Q2M"), (12500, "12500"), (None, "-"), ("a\nforged line", "a\\x0aforged line"),
    ({"number": CARD["number"]}, "<dict>"), ("x" * 100, "x" * 80 + "…"),
])
def test_a_client_value_is_logged_on_one_line_and_only_if_plain(value, shown):
    assert loggable(value) == shown
