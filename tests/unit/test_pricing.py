"""The rate calendar, quotes and cancellation policies: plain functions, no database."""
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from booking.devstack import bank as sandbox_bank
from booking.kit import policies
from booking.kit.bank import MAX_CHARGE_MINOR
from booking.kit.schemas import included_vat, money, to_minor
from booking.search import pricing
from booking.search.exceptions import RoomNotSellable

FIRST_NIGHT = {"free_until_hours": 48, "penalty": "first_night", "penalty_percent": None}


def rule(first, last=None, **terms):
    fields = {"room_type": None, "rate_plan": None, "every_year": False, "weekdays": None, "price_minor": None,
              "adjust_percent": None, "adjust_minor": None, "closed": False, "closed_to_arrival": False,
              "min_stay": None, "max_stay": None, **terms}
    return pricing.Rule.of(SimpleNamespace(starts=first, ends=last or first, **fields))


def test_a_rule_every_year_over_the_new_year_covers_december_and_february_not_march():
    winter = rule(date(2000, 12, 15), date(2000, 2, 28), every_year=True)
    assert [pricing.covers(winter, night) for night in (date(2027, 12, 20), date(2028, 2, 1), date(2028, 3, 1))] \
        == [True, True, False]


def test_weekend_rules_cover_friday_and_saturday_nights_only():
    weekend = rule(date(2000, 1, 1), date(2000, 12, 31), every_year=True, weekdays="45", adjust_percent=20)
    week = [date(2027, 1, 11) + timedelta(days=n) for n in range(7)]  # Monday to Sunday
    assert [pricing.night_price(10000, [weekend], night) for night in week] == [10000] * 4 + [12000] * 2 + [10000]


def test_rules_apply_in_order_a_set_price_then_a_percentage_then_an_amount():
    night = date(2027, 5, 1)
    assert pricing.night_price(10000, [rule(night, price_minor=8000, adjust_percent=10, adjust_minor=-500)],
                               night) == 8300
    assert pricing.night_price(10000, [rule(night, adjust_percent=-15), rule(night, adjust_percent=10)],
                               night) == 9350
    assert pricing.night_price(1000, [rule(night, adjust_minor=-5000)], night) == 0  # never below nothing


@pytest.mark.parametrize("rules, stay, field", [
    ([rule(date(2027, 5, 2), closed=True)], (1, 4), "check_in"),
    ([rule(date(2027, 5, 1), closed_to_arrival=True)], (1, 2), "check_in"),
    ([rule(date(2027, 5, 1), min_stay=3)], (1, 3), "check_out"),
    ([rule(date(2027, 5, 1), max_stay=2)], (1, 4), "check_out"),
])
def test_what_the_calendar_refuses_names_the_field(rules, stay, field):
    check_in, check_out = (date(2027, 5, day) for day in stay)
    assert pricing.refusal(rules, check_in, check_out)[0] == field


def test_a_closed_to_arrival_day_may_still_be_stayed_through():
    rules = [rule(date(2027, 5, 2), closed_to_arrival=True), rule(date(2027, 5, 3), min_stay=5)]
    assert pricing.refusal(rules, date(2027, 5, 1), date(2027, 5, 4)) is None


offers = st.lists(st.tuples(st.sampled_from(["double", "family"]), st.sampled_from(["flexible", "nonrefundable"]),
                            st.integers(1000, 50000)), min_size=1, max_size=6)
rules_drawn = st.lists(st.builds(
    lambda offset, length, room_type, plan, percent, amount, price, closed, min_stay: rule(
        date(2027, 5, 1) + timedelta(days=offset), date(2027, 5, 1) + timedelta(days=offset + length),
        room_type=room_type, rate_plan=plan, adjust_percent=percent, adjust_minor=amount, price_minor=price,
        closed=closed, min_stay=min_stay),
    st.integers(0, 8), st.integers(0, 4), st.sampled_from([None, "double"]), st.sampled_from([None, "flexible"]),
    st.sampled_from([None, -20, 10, 25]), st.sampled_from([None, -700, 1500]), st.sampled_from([None, 9000]),
    st.sampled_from([False, False, False, True]), st.sampled_from([None, None, 3])), max_size=5)


@settings(max_examples=200, deadline=None)
@given(offers=offers, rules=rules_drawn, check_in=st.integers(0, 6), nights=st.integers(1, 5))
def test_the_cheapest_stay_a_search_shows_is_the_cheapest_of_every_offer_priced_alone(offers, rules, check_in,
                                                                                     nights):
    first = date(2027, 5, 1) + timedelta(days=check_in)
    last = first + timedelta(days=nights)
    alone = []
    for room_type, plan, base in offers:
        governing = pricing.rules_for(rules, room_type, plan)
        if pricing.sellable(governing, first, last):
            alone.append(sum(price for _, price in pricing.night_prices(base, governing, first, last)))
    assert pricing.cheapest_stay(offers, rules, first, last) == min(alone, default=None)



@settings(max_examples=100, deadline=None)
@given(offers=offers, rules=rules_drawn, stays=st.lists(st.tuples(st.integers(-3, 12), st.integers(1, 5)),
                                                         min_size=1, max_size=12))
def test_a_hotels_stay_prices_asked_stay_after_stay_answer_as_if_each_were_the_first(offers, rules, stays):
    kept = pricing.StayPrices(offers, rules)  # what it read of the nights of one stay serves the next
    for offset, nights in stays:
        first = date(2027, 5, 1) + timedelta(days=offset)
        last = first + timedelta(days=nights)
        assert kept.cheapest(first, last) == pricing.StayPrices(offers, rules).cheapest(first, last)
        assert kept.cheapest(first, last, {"family"}) == pricing.cheapest_stay(
            [offer for offer in offers if offer[0] == "family"], rules, first, last)

def hotel(**overrides):
    plans = [SimpleNamespace(code="flexible", name="Flexible", price_minor=10000, policy=FIRST_NIGHT),
             SimpleNamespace(code="nonrefundable", name="Non-refundable", price_minor=9000,
                             policy={"free_until_hours": None, "penalty": "all", "penalty_percent": None})]
    room = SimpleNamespace(code="double", name="Double Room", max_guests=2, occupancy=3, room_count=4,
                           rate_plans=plans)
    fields = {"id": 1, "name": "Maison", "address": "1 Quai", "timezone": "Europe/Paris", "check_in_time": "15:00",
              "check_out_time": "11:00", "currency": "EUR", "vat_basis_points": 1000, "city_tax_minor": 250,
              "room_types": [room], "rate_rules": []}
    return SimpleNamespace(**{**fields, **overrides})


def test_a_quote_adds_the_city_tax_per_adult_and_night_and_shows_the_vat_it_includes():
    quote = pricing.quote(hotel(), date(2027, 5, 3), date(2027, 5, 5), [
        {"room_type": "double", "rate_plan": "flexible", "adults": 2, "children": [4]}])
    assert (quote["room_total_minor"], quote["city_tax_minor"], quote["total_minor"]) == (20000, 1000, 21000)
    assert quote["vat_minor"] == included_vat(20000, 1000) == 1818
    policy = quote["rooms"][0]["cancellation_policy"]
    assert policy["deadline"] == datetime(2027, 5, 1, 13, tzinfo=UTC) and policy["penalty_minor"] == 10000


@pytest.mark.parametrize("wanted, field", [
    ({"room_type": "double", "rate_plan": "flexible", "adults": 3, "children": []}, "rooms.0.adults"),
    ({"room_type": "double", "rate_plan": "flexible", "adults": 2, "children": [1, 2]}, "rooms.0.children"),
    ({"room_type": "double", "rate_plan": "weekly", "adults": 1, "children": []}, "rooms.0.rate_plan"),
    ({"room_type": "suite", "rate_plan": "flexible", "adults": 1, "children": []}, "rooms.0.room_type"),
])
def test_a_quote_refuses_what_the_room_does_not_take(wanted, field):
    with pytest.raises(RoomNotSellable) as refusal:
        pricing.quote(hotel(), date(2027, 5, 3), date(2027, 5, 5), [wanted])
    assert field in refusal.value.details and refusal.value.http_status == 422


def test_a_stay_dearer_than_one_card_payment_is_refused_at_the_quote_and_one_at_the_limit_is_not():
    # 3 nights of two rooms at ARS 170,000.00 a night is ARS 1,020,000.00 (once a mix's booking,
    # which the bank refused at payment); the bank takes 999,999.99 at most
    dear = SimpleNamespace(code="flexible", name="Flexible", price_minor=17_000_000, policy=FIRST_NIGHT)
    room = SimpleNamespace(code="double", name="Double Room", max_guests=2, occupancy=2, room_count=4,
                           rate_plans=[dear])
    stay = date(2027, 9, 27), date(2027, 9, 30)
    two_rooms = [{"room_type": "double", "rate_plan": "flexible", "adults": 2}] * 2
    with pytest.raises(RoomNotSellable) as refusal:
        pricing.quote(hotel(currency="ARS", city_tax_minor=0, room_types=[room]), *stay, two_rooms)
    assert refusal.value.http_status == 422 and "rooms" in refusal.value.details
    assert "999999.99 ARS at most" in str(refusal.value)
    dear.price_minor = MAX_CHARGE_MINOR // 6  # at most the limit in all: sold
    assert pricing.quote(hotel(currency="ARS", city_tax_minor=0, room_types=[room]), *stay, two_rooms)[
        "total_minor"] <= MAX_CHARGE_MINOR


def test_the_limit_search_prices_against_is_the_sandbox_banks():
    assert MAX_CHARGE_MINOR == sandbox_bank.MAX_AMOUNT


def test_the_deadline_is_real_hours_before_check_in_across_a_daylight_saving_change():
    # Paris goes to summer time on 28 March 2027: 48 hours before 15:00 on the 29th is 14:00 on the 27th
    deadline = policies.deadline(FIRST_NIGHT, date(2027, 3, 29), "15:00", "Europe/Paris")
    assert deadline == datetime(2027, 3, 27, 13, tzinfo=UTC)
    assert policies.local_time(deadline, "Europe/Paris").isoformat() == "2027-03-27T14:00:00+01:00"
    second = timedelta(seconds=1)
    assert policies.terms(FIRST_NIGHT, deadline, deadline - second, 30000, 10000) == (30000, 0)
    assert policies.terms(FIRST_NIGHT, deadline, deadline, 30000, 10000) == (30000, 0)
    assert policies.terms(FIRST_NIGHT, deadline, deadline + second, 30000, 10000) == (20000, 10000)


@pytest.mark.parametrize("policy, kept", [
    (FIRST_NIGHT, 9000), ({"free_until_hours": 24, "penalty": "percent", "penalty_percent": 50}, 15001),
    ({"free_until_hours": None, "penalty": "all", "penalty_percent": None}, 30500),
    ({"free_until_hours": None, "penalty": "none", "penalty_percent": None}, 0),
])
def test_each_penalty_keeps_its_share(policy, kept):
    assert policies.penalty_after_deadline(policy, [9000, 12001, 9001], 30500) == kept


def test_a_non_refundable_rate_keeps_everything_at_any_time_and_says_so():
    strict = {"free_until_hours": None, "penalty": "all", "penalty_percent": None}
    assert policies.deadline(strict, date(2027, 5, 3), "15:00", "Europe/Paris") is None
    assert policies.terms(strict, None, datetime(2020, 1, 1, tzinfo=UTC), 30000, 30000) == (0, 30000)
    assert policies.describe(strict, None, "Asia/Tokyo", 12340, "JPY") == \
        "Non-refundable: the whole price (12340 JPY) is charged, whenever you cancel."


@pytest.mark.parametrize("minor, currency, shown", [(12340, "EUR", "123.40"), (12340, "JPY", "12340"),
                                                     (12340, "BHD", "12.340"), (5, "EUR", "0.05")])
def test_money_has_the_digits_of_its_currency(minor, currency, shown):
    assert money(minor, currency)["amount"] == shown
    assert to_minor(shown, currency) == minor
