"""What the pages say about a form's fields: named in words, problems as sentences."""
from entrypoints.gateway.wording import field_name, field_problems, in_words


def test_fields_are_named_in_words():
    assert field_name("check_in") == "Check-in date"
    assert field_name("adults_3") == "Adults"  # a room's slot on the form of several rooms
    assert field_name("min_stars") == "Min stars"


def test_a_services_problems_read_as_sentences():
    assert in_words(["Must be greater than or equal to 1 and less than or equal to 10."]) == "Choose from 1 to 10."
    assert in_words("Missing data for required field.") == "Please fill this in."
    assert in_words({"0": ["Not a valid integer."], "1": ["Not a valid integer."]}) == "Enter a whole number. " \
                                                                                       "Enter a whole number."
    assert in_words(["Check-in cannot be in the past."]) == "Check-in cannot be in the past."  # already words


def test_a_cards_problems_belong_to_the_cards_fields():
    assert field_problems({"card": {"number": ["Not a valid card number."], "cvc": ["3 or 4 digits."]},
                           "idempotency_key": ["Missing data for required field."]}) == {
        "number": "Not a valid card number.", "cvc": "The 3 or 4 digits on the back of the card.",
        "idempotency_key": "Please fill this in."}
    assert field_problems({"card": "incorrect_number"}) == {"number": "incorrect_number"}
