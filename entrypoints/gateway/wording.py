"""What a service says about a form's fields, in words a guest reads.

Services describe a field's problem for developers ("Must be greater than or equal
to 1 and less than or equal to 10.", keyed `check_in`); pages name the field in words
("Check-in date") and say the problem as a sentence a guest can act on."""
import re

FIELD_NAMES = {
    "city": "City", "check_in": "Check-in date", "check_out": "Check-out date", "guests": "Guests",
    "page": "Page", "sort": "Sort", "rooms": "Rooms", "room": "Room", "adults": "Adults",
    "children": "Children's ages", "full_name": "Full name", "email": "E-mail address", "password": "Password",
    "holder": "Name on the card", "number": "Card number", "exp_month": "Expiry month",
    "exp_year": "Expiry year", "cvc": "CVC", "card": "Card",
    # the account pages
    "current_password": "Current password", "new_password": "New password", "new_email": "New e-mail address",
    # the partner pages
    "name": "Name", "description": "Description", "address": "Address", "amenities": "Amenities",
    "check_in_time": "Check-in from", "check_out_time": "Check-out until", "policies_text": "Hotel policies",
    "code": "Code", "max_adults": "Adults at most", "max_occupancy": "People at most, with children",
    "price": "Price", "room_type": "Room type", "rate_plan": "Rate plan", "start": "First night", "end": "Last night",
    "from": "First night", "to": "Last night", "closed": "Closed", "min_stay": "Minimum stay",
    "closed_to_arrival": "Closed to arrival", "arrival": "Arrival", "departure": "Departure", "status": "Status",
    "q": "Reference or guest", "month": "Month",
}

# marshmallow's messages, and what a guest reads instead
SENTENCES = [
    (r"Missing data for required field\.", "Please fill this in."),
    (r"Field may not be null\.", "Please fill this in."),
    (r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\.", r"Choose from \1 to \2."),
    (r"Must be greater than or equal to (\S+)\.", r"Choose \1 or more."),
    (r"Must be less than or equal to (\S+)\.", r"Choose \1 or fewer."),
    (r"Shorter than minimum length (\d+)\.", r"Use at least \1 characters."),
    (r"Longer than maximum length (\d+)\.", r"Use at most \1 characters."),
    (r"Length must be between 1 and (\d+)\.", r"Please fill this in (at most \1 characters)."),
    (r"Length must be between (\d+) and (\d+)\.", r"Use from \1 to \2 characters."),
    (r"Not a valid integer\.", "Enter a whole number."),
    (r"Not a valid date\.", "Enter a date (day, month and year)."),
    (r"Not a valid email address\.", "Enter an e-mail address such as name@example.com."),
    (r"Not a valid string\.", "Enter some text."),
    (r"Must be one of: .*", "Choose one of the options."),
    (r"Taken\.", "An account with this e-mail address exists already: log in instead."),
    (r"3 or 4 digits\.", "The 3 or 4 digits on the back of the card."),
]
SENTENCES = [(re.compile(rf"\A{pattern}\Z"), words) for pattern, words in SENTENCES]


def field_name(field):
    """'Check-in date' for `check_in`; 'Adults' for `adults_2` (a room's slot)."""
    base = re.sub(r"_\d+\Z", "", str(field))
    return FIELD_NAMES.get(base, base.replace("_", " ").capitalize())


def in_words(problem):
    """A service's description of a field's problem (a string, a list of them, or a
    nested dict) as sentences, each rewritten for a guest."""
    if isinstance(problem, dict):
        return " ".join(in_words(value) for value in problem.values())
    if isinstance(problem, list | tuple):
        return " ".join(dict.fromkeys(in_words(value) for value in problem))
    text = str(problem).strip()
    for pattern, words in SENTENCES:
        if pattern.match(text):
            return pattern.sub(words, text)
    return text.replace("check_in", "check-in").replace("check_out", "check-out")


def field_problems(details, order=()):
    """{field: sentence} from a refusal's `details`, the fields of `order` first in
    that order (the form's); a card's fields are the form's own."""
    details = dict(details or {})
    details = {**{field: details[field] for field in order if field in details}, **details}
    card = details.pop("card", None)
    problems = {field: in_words(problem) for field, problem in details.items()}
    if isinstance(card, dict):
        problems.update((field, in_words(problem)) for field, problem in card.items())
    elif card:
        problems["number"] = in_words(card)
    return problems
