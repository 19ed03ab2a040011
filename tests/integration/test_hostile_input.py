"""Hostile input: whatever a client sends, the API answers with a status its OpenAPI
document lists and with its one error body, never a 5xx, never a stack trace; text
it accepts comes back escaped; someone else's reservation does not exist. Every
service runs in a real container on the real broker, with the sandbox bank and the
mail sink in their own processes, on SQLite and on PostgreSQL."""
import html
import json
import re
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlencode

from markupsafe import escape
from openapi_schema_validator import OAS30Validator

from booking.devstack.mailsink import wait_for_message
from entrypoints.gateway.http import NOT_TEXT
from tests import eventually
from tests.integration.test_accounts import PASSWORD, Client, login, register
from tests.integration.test_booking_saga import (  # noqa: F401 (containers, saga_config: fixtures)
    STAY,
    bank,
    card,
    containers,
    form_of,
    guest,
    hold,
    pay,
    saga_config,
    status_of,
)
from tests.integration.test_gateway import api, assert_error, gateway, gateway_config, search  # noqa: F401

# what a leaked exception looks like in an answer
LEAK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|\b[A-Z]\w*(?:Error|Exception): "
                  r"|sqlalchemy|psycopg2|sqlite3\.|nameko\.|werkzeug\.|eventlet\.")


def leaks(text):
    return LEAK.search(text) is not None


# -- schemathesis, every check ------------------------------------------------------------------

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
MAX_EXAMPLES = 100  # per operation and phase: under a minute on two cores

# Every check runs on every operation. A schema-valid request that a business rule
# refuses is answered 400 (or 402, 422) as documented; where such a rule exists, and
# only there, positive_data_acceptance takes that answer too.
SCHEMATHESIS_CONFIG = """
# text holding a NUL is refused everywhere (400), on purpose: the hostile-values test below proves it
generation.allow-x00 = false

[checks.negative_data_rejection]
# schemathesis' own list, and 413: a body over 64 KiB is refused before it is read (a string
# generated past its maxLength once made one)
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]

[[operations]]
include-name = ["GET /api/v1/hotels", "GET /api/v1/hotels/{hotel_id}"]
# a stay's dates must lie ahead and in order, at most 30 nights; prices have cents, no finer
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "400"]

[[operations]]
include-name = "POST /api/v1/reservations"
# the stay's rules as above, at most 500 days ahead; generated Idempotency-Keys repeat with another body (422)
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "400", "422"]

[[operations]]
include-name = "POST /api/v1/reservations/{reservation_id}/payment"
# a card number has a checksum, a card may have expired or be declined (402); keys repeat (422)
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "400", "402", "422"]

[[operations]]
include-name = "POST /api/v1/quotes"
# the stay's rules as above; the rate calendar or the room may not sell what was asked (422)
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "400", "422"]

[[operations]]
include-name = "POST /api/v1/reservations/{reservation_id}/change"
# the stay's and the card's rules as above; the booking may not be changeable (409), a dearer stay
# needs a card (402), the calendar may not sell the new stay (422), keys repeat (422)
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "400", "402", "422"]

[[operations]]
include-name = "POST /api/v1/users"
# the password policy: 12 characters or more, not a common one, not the e-mail's name
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "400"]

[[operations]]
include-name = ["POST /api/v1/password-reset/confirm", "POST /api/v1/email-verification"]
# a token must be one that was e-mailed (400 otherwise); a new password meets the policy above
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "400"]

[[operations]]
include-name = ["POST /api/v1/me/password", "POST /api/v1/me/email"]
# the current password must be right (403), and wrong guesses are limited as at login (429);
# a new password meets the policy above, a new address may be taken (409)
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "400", "429"]

[[operations]]
include-name = ["POST /api/v1/password-reset", "POST /api/v1/me/verification"]
# e-mails asked for are limited per address and per client (429)
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "400", "429"]

[[operations]]
include-name = "POST /oauth/token"
# RFC 6749: the fields a grant needs depend on grant_type, and an unknown refresh token is invalid_grant
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "400"]
"""


def test_schemathesis_with_every_check_finds_no_server_error_and_no_leak(guest, figures, tmp_path):  # noqa: F811
    # the operations on one reservation work on a real one of the guest's
    reservation_id = hold(guest, "for-schemathesis").json()["id"]
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG + f'\n[parameters]\n"path.reservation_id" = "{reservation_id}"\n')
    har = tmp_path / "schemathesis.har"
    run = subprocess.run([
        SCHEMATHESIS, "--config-file", str(config), "run", f"{guest.base_url}/api/v1/openapi.json",
        "--url", guest.base_url, "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--workers", "1",
        "--header", f"Authorization: {guest.headers['Authorization']}", "--no-color",
        "--generation-database", "none", "--report", "har", "--report-har-path", str(har),
    ], capture_output=True, text=True, timeout=600, cwd=tmp_path)  # its cache stays in tmp_path
    assert har.exists(), run.stdout + run.stderr  # it ran at all

    entries = json.loads(har.read_text())["log"]["entries"]
    statuses = Counter(entry["response"]["status"] for entry in entries)
    figures["schemathesis requests"] = len(entries)
    figures["operations"] = int(re.search(r"Tested: (\d+)", run.stdout).group(1))
    figures["statuses"] = dict(sorted(statuses.items()))
    figures["server errors"] = sum(n for status, n in statuses.items() if status >= 500)
    figures["seed"] = re.search(r"Seed: (\d+)", run.stdout).group(1)
    assert run.returncode == 0, run.stdout[-20000:]
    assert figures["server errors"] == 0
    assert [entry["request"]["url"] for entry in entries if leaks(entry["response"]["content"].get("text", ""))] == []


# -- hostile values in every field ----------------------------------------------------------------

HOSTILE = {
    "10,000 characters": "x" * 10_000,
    "SQL": "' OR 1=1 --",
    "SQL statement": '"; DROP TABLE users; --',
    "script": "<script>alert(1)</script>",
    "NUL byte": "ab\x00cd",
    "lone surrogate": "\ud800",
    "number": 12345,
    "huge integer": 10**30,
    "negative number": -1,
    "fraction": 0.5,
    "infinity": float("inf"),  # JSON's Infinity, which Python's parser takes
    "boolean": True,
    "null": None,
    "list": ["a", 1],
    "object": {"$gt": ""},
}


def resolved(document, schema):
    if "$ref" in schema:
        return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def inputs_of(document, operation):
    """{field: schema} of every input of an operation: ("query" | "path", name) and
    ("body", key, ...) down nested objects."""
    inputs = {(p["in"], p["name"]): p["schema"] for p in operation.get("parameters", [])
              if p["in"] in ("query", "path")}

    def walk(schema, field):
        for name, property in resolved(document, schema).get("properties", {}).items():
            inputs[(*field, name)] = property
            walk(property, (*field, name))
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body:
        walk(body["schema"], ("body",))
    return inputs


def json_operations(document):
    """(method, path, operation) of every operation that takes input and answers JSON:
    all but OAuth's form-encoded endpoints, which answer as RFC 6749 says."""
    operations = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            media_types = set(operation.get("requestBody", {}).get("content", {"application/json": None}))
            if inputs_of(document, operation) and media_types == {"application/json"}:
                operations.append((method, path, operation))
    return operations


def known_values(reservation_id):
    """A valid value of each input of the API by name (a callable where each request needs its own)."""
    return {
        "service": "search", "prefix": "Pa", "city": "Paris", "guests": 2, "min_stars": 3, "max_price": 500,
        "sort": "price", "page": 1, "per_page": 5, **STAY,
        "hotel_id": 4, "room_type": "double",  # the Grand Hôtel's 20 doubles: room for what gets through
        "email": lambda: f"guest-{uuid.uuid4().hex[:12]}@example.com", "password": PASSWORD,
        "full_name": "Ada Lovelace", "card": card(), **card(), "reservation_id": reservation_id,
    }


def valid_value(document, name, schema, known):
    if name in known:
        return known[name]() if callable(known[name]) else known[name]
    # an input this test does not know yet: the simplest value its schema allows
    schema = resolved(document, schema)
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("type") == "object":
        return {key: valid_value(document, key, value, known) for key, value in schema.get("properties", {}).items()}
    return {"integer": schema.get("minimum", 1), "number": schema.get("maximum", 1), "boolean": True,
            "array": []}.get(schema.get("type"), "x" * schema.get("minLength", 1))


def as_text(value, in_path=False):
    """A value as a query string (a list: the parameter repeated) or a path carries it."""
    if isinstance(value, list) and not in_path:
        return [as_text(item) for item in value]
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)


def request_with(document, path, operation, known, field, value):
    """(url, JSON body) of a valid request to the operation, but for `value` in `field`."""
    parameters = {(p["in"], p["name"]): valid_value(document, p["name"], p["schema"], known)
                  for p in operation.get("parameters", []) if p["in"] in ("query", "path")}
    body = None
    if "requestBody" in operation:
        body = valid_value(document, "", operation["requestBody"]["content"]["application/json"]["schema"], known)
    if field[0] == "body":
        *outer, last = field[1:]
        target = body
        for key in outer:
            target = target[key]
        target[last] = value
    else:
        parameters[field] = value
    url = re.sub(r"{(\w+)}", lambda m: quote(as_text(parameters[("path", m[1])], in_path=True)
                                             .encode("utf-8", "surrogatepass"), safe=""), path)
    query = {name: as_text(value) for (place, name), value in parameters.items() if place == "query"}
    return f"{url}?{urlencode(query, doseq=True, errors='surrogatepass')}", body


def documented_as_valid(document, field, schema, value):
    """Whether the document calls `value` valid for the input; null, like an empty query
    parameter, is the input left out."""
    if value is None:
        return True
    if field[0] != "body":  # text on the wire: the first of repeated values, a number read as one
        value = as_text(value)
        value = value[0] if isinstance(value, list) else value
        if resolved(document, schema).get("type") != "string":
            try:
                value = json.loads(value)
            except ValueError:
                return False
    return OAS30Validator({**schema, "components": document["components"]}).is_valid(value)


def what_is_wrong(answer, operation):
    """What is wrong with an answer to hostile input, if anything."""
    if answer.status_code >= 500:
        return "a server error"
    if leaks(answer.text):
        return "a leak"
    if str(answer.status_code) not in operation["responses"]:
        return "an undocumented status"
    if answer.status_code >= 400 and (answer.headers.get("Content-Type") != "application/json"
                                      or set(answer.json()) != {"error", "message", "details"}):
        return "not the error body"
    return None


def test_hostile_values_in_every_input_of_every_json_operation_are_refused_in_the_error_body(
        guest, figures):  # noqa: F811
    """The operations and their inputs come from the OpenAPI document: a new route is covered."""
    document = guest.get("/api/v1/openapi.json").json()
    known = known_values(hold(guest, "hostile-base").json()["id"])
    wrong, accepted, sent = [], Counter(), 0
    for method, path, operation in json_operations(document):
        for field, schema in inputs_of(document, operation).items():
            for label, value in HOSTILE.items():
                url, body = request_with(document, path, operation, known, field, value)
                answer = guest.request(method.upper(), url, data=None if body is None else json.dumps(body),
                                       headers={"Content-Type": "application/json",
                                                "Idempotency-Key": uuid.uuid4().hex})
                sent += 1
                where = f"{method.upper()} {path} {'.'.join(field[1:])} = {label}"
                problem = what_is_wrong(answer, operation)
                if problem is None and answer.status_code < 400:
                    accepted[where] = answer.status_code
                    if not documented_as_valid(document, field, schema, value):
                        problem = "accepted, though the document calls it invalid"
                if problem:
                    wrong.append(f"{where}: {problem} ({answer.status_code} {answer.text[:200]})")
    figures["operations"] = len(json_operations(document))
    figures["hostile requests"] = sent
    figures["accepted (documented as valid)"] = len(accepted)
    assert not wrong, "\n".join(wrong)


def test_text_the_api_accepts_comes_back_escaped_in_the_pages_and_the_email(containers, saga_config):  # noqa: F811
    name = "\"><script>alert(1)</script>' OR 1=1 --"
    with Client(f"http://{saga_config['WEB_SERVER_ADDRESS']}") as web:
        register(web, full_name=name)
        page = web.get("/login")
        assert web.post("/login", data={**form_of(page, "/login"), "email": "ada@example.com",
                                        "password": PASSWORD}).status_code == 303
        account = web.get("/account")
        welcome = wait_for_message(saga_config["MAIL_DIR"], lambda m: m["To"] == "ada@example.com")
        outbox = web.get("/dev/outbox/0")
    assert account.status_code == 200 and outbox.status_code == 200
    for shown in (account.text, outbox.text, welcome.get_body(("html",)).get_content()):
        assert "<script>" not in shown
    assert account.text.count(str(escape(name))) == 2  # the header's link and the form's value
    assert str(escape(name)) in outbox.text
    assert html.escape(name) in welcome.get_body(("html",)).get_content()


# -- someone else's reservation -------------------------------------------------------------------

API_ROUTES = [("GET", "/api/v1/reservations/{}", {}),
              ("POST", "/api/v1/reservations/{}/payment", {"json": {"card": card()}}),
              ("POST", "/api/v1/reservations/{}/cancel", {}),
              ("GET", "/api/v1/reservations/{}/confirmation.pdf", {})]


def test_someone_elses_reservation_is_not_found_in_the_api_and_the_pages_and_stays_as_it_was(
        guest, bank, saga_config):  # noqa: F811
    held = hold(guest, "held").json()["id"]
    confirmed = hold(guest, "confirmed").json()["id"]
    assert pay(guest, confirmed, "pay-confirmed").status_code == 200
    eventually(lambda: status_of(guest, confirmed) == "confirmed")
    nobodys = "BK00000000"

    with Client(guest.base_url) as eve:
        register(eve, email="eve@example.com", full_name="Eve")
        eve.headers["Authorization"] = f"Bearer {login(eve, email='eve@example.com')['access_token']}"
        for method, route, options in API_ROUTES:
            unknown = eve.request(method, route.format(nobodys), headers={"Idempotency-Key": "eve"}, **options)
            assert unknown.status_code == 404, (route, unknown.text)
            for reservation_id in (held, confirmed):
                theirs = eve.request(method, route.format(reservation_id), headers={"Idempotency-Key": "eve"},
                                     **options)
                # as unknown as one that does not exist: the same answer, but for the id it names
                assert theirs.status_code == 404, (route, theirs.text)
                assert theirs.json() == {**unknown.json(), "details": {"reservation_id": reservation_id}}

        del eve.headers["Authorization"]  # the pages: Eve logged in with her session cookie
        page = eve.get("/login")
        eve.post("/login", data={**form_of(page, "/login"), "email": "eve@example.com", "password": PASSWORD})
        csrf = form_of(eve.get("/account"), "/account")
        for reservation_id in (held, confirmed):
            pages = [eve.get(f"/bookings/{reservation_id}"),
                     eve.post(f"/bookings/{reservation_id}/pay", data={
                         **csrf, "holder": "Eve", "number": card()["number"], "exp_month": "12",
                         "exp_year": str(card()["exp_year"]), "cvc": "123", "idempotency_key": "eve-page"}),
                     eve.post(f"/bookings/{reservation_id}/cancel", data=csrf),
                     eve.get(f"/bookings/{reservation_id}/confirmation.pdf")]
            assert [answer.status_code for answer in pages] == [404] * 4
            assert all("We could not find that" in answer.text for answer in pages)
        assert held not in eve.get("/bookings").text and confirmed not in eve.get("/bookings").text

    assert (status_of(guest, held), status_of(guest, confirmed)) == ("held", "confirmed")
    assert bank.charges(held) == []
    assert [(charge["status"], charge["refunded_amount"]) for charge in bank.charges(confirmed)] == [("succeeded", 0)]


# -- what the tests above found, each on its own --------------------------------------------------

def test_another_method_on_a_route_is_a_405_in_its_own_error_body_naming_only_its_methods(gateway, api):  # noqa: F811
    wrong = api.put("/api/v1/hotels")
    assert_error(wrong, 405, "METHOD_NOT_ALLOWED")
    assert wrong.headers["Allow"] == "GET, HEAD"
    # the /api catch-all (GET, a 404) neither hides a POST-only route's 405 nor adds GET to it
    post_only = api.get("/api/v1/users")
    assert_error(post_only, 405, "METHOD_NOT_ALLOWED")
    assert post_only.headers["Allow"] == "POST"
    assert api.options("/api/v1/auth/login").headers["Allow"] == "POST"
    assert_error(api.put("/api/v1/no/such/route"), 404, "NOT_FOUND")
    page = api.put("/account")
    assert page.status_code == 405 and page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Allow"] == "GET, HEAD, POST" and "That did not work" in page.text


def test_text_no_database_stores_is_refused_at_the_edge_naming_the_field(gateway, api):  # noqa: F811
    """A NUL (PostgreSQL refuses it) or an unpaired surrogate (not UTF-8) made a 500."""
    nul = api.get("/api/v1/cities?prefix=ab%00cd")
    assert assert_error(nul, 400, "VALIDATION_ERROR")["details"] == {"prefix": [NOT_TEXT]}
    body = '{"email": "ada@example.com", "password": "analytical engine 1843", "full_name": "Ada \\ud800"}'
    surrogate = api.post("/api/v1/users", data=body, headers={"Content-Type": "application/json"})
    assert assert_error(surrogate, 400, "VALIDATION_ERROR")["details"] == {"full_name": [NOT_TEXT]}
    key = api.post("/api/v1/reservations", json={}, headers={"Authorization": "Bearer x", "Idempotency-Key": "a\x00b"})
    assert assert_error(key, 400, "VALIDATION_ERROR")["details"] == {"Idempotency-Key": [NOT_TEXT]}


def test_a_hotel_id_too_large_for_the_database_is_a_400_not_a_500(gateway, search, api):  # noqa: F811
    body = assert_error(api.get(f"/api/v1/hotels/{10**30}"), 400, "VALIDATION_ERROR")
    assert list(body["details"]) == ["hotel_id"]


def test_a_query_of_10000_characters_reaches_the_route_and_is_refused_in_its_error_body(
        gateway, search, api):  # noqa: F811
    body = assert_error(api.get("/api/v1/hotels", params={"city": "x" * 10_000}), 400, "VALIDATION_ERROR")
    assert list(body["details"]) == ["city"]
