"""The sandbox bank as a real process, spoken to over HTTP as `payments` will.

Each test starts a bank of its own, with its ledger in the test's folder, so that the
balance it reads is its own. The API key is not the default one, so that a request
with the default key shows that `--api-key` is obeyed.
"""
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import date

import pytest
import requests

from booking.devstack.ports import free_port, is_listening

API_KEY = "sk_test_integration"
VISA = "4242424242424242"
CVC = "8391"  # spelled by no date or amount here; ids, times and the port are scrubbed before a search
START_TIMEOUT_SECONDS = 15
HTTP_TIMEOUT_SECONDS = 10
IDS = re.compile(rb"(?:ch|re|tok)_[0-9a-f]{24}")


def card(number=VISA):
    return {"number": number, "exp_month": 12, "exp_year": date.today().year + 3, "cvc": CVC,
            "holder": "Ada Lovelace"}


def charge_body(number=VISA, amount=12500, reference="BK-7Q2M", **changes):
    return {"amount": amount, "currency": "EUR", "card": card(number), "reference": reference,
            "description": "Hotel Limmat, 2 nights", **changes}


def token_charge_body(token, **changes):
    body = charge_body(source=token, **changes)
    del body["card"]
    return body


class SandboxBank:
    def __init__(self, tmp_path, *flags):
        self.port = free_port()
        self.ledger = tmp_path / "bank.db"
        self.log = tmp_path / f"bank-{self.port}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "booking.devstack.bank", "--port", str(self.port),
                 "--ledger", str(self.ledger), "--api-key", API_KEY, *flags],
                stdout=log, stderr=subprocess.STDOUT,
            )
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {API_KEY}"

    def wait_until_listening(self):
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not is_listening("127.0.0.1", self.port):
            assert self.process.poll() is None, f"the bank exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"the bank did not listen:\n{self.log.read_text()}"
            time.sleep(0.05)
        return self

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def post(self, path, body, key=None, **headers):
        if key:
            headers["Idempotency-Key"] = key
        return self.http.post(self.url(path), json=body, headers=headers, timeout=HTTP_TIMEOUT_SECONDS)

    def get(self, path, **params):
        return self.http.get(self.url(path), params=params, timeout=HTTP_TIMEOUT_SECONDS)

    def charges(self, **params):
        answer = self.get("/v1/charges", **params)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def balance(self):
        return self.get("/v1/balance").json()

    def terminate(self):
        """SIGTERM, then the exit status, which must come within 5 s."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=5)

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.http.close()


@pytest.fixture
def start_bank(tmp_path):
    """Start a bank with these command-line flags; each is killed at the end of the test."""
    banks = []

    def start(*flags):
        banks.append(SandboxBank(tmp_path, *flags))
        return banks[-1].wait_until_listening()

    yield start
    for bank in banks:
        bank.stop()


@pytest.fixture
def bank(start_bank):
    return start_bank()


def error_of(answer):
    error = answer.json()["error"]
    return answer.status_code, error["type"], error.get("code")


def test_a_charge_is_made_once_however_often_it_is_sent(bank):
    first = bank.post("/v1/charges", charge_body(), key="stay-1")
    again = bank.post("/v1/charges", charge_body(), key="stay-1")

    assert first.status_code == 201, first.text
    charge = first.json()
    assert charge["id"].startswith("ch_")
    assert {name: charge[name] for name in ("object", "status", "amount", "currency", "card", "reference",
                                            "description", "refunded_amount")} == {
        "object": "charge", "status": "succeeded", "amount": 12500, "currency": "EUR",
        "card": {"brand": "visa", "last4": "4242"}, "reference": "BK-7Q2M",
        "description": "Hotel Limmat, 2 nights", "refunded_amount": 0}
    assert (again.status_code, again.text) == (201, first.text)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert bank.balance() == {"charged": 12500, "refunded": 0, "net": 12500, "currency": "EUR"}
    assert [listed["id"] for listed in bank.charges(reference="BK-7Q2M")] == [charge["id"]]


def test_the_same_key_with_another_body_is_refused_and_charges_nothing(bank):
    assert bank.post("/v1/charges", charge_body(), key="stay-1").status_code == 201

    answer = bank.post("/v1/charges", charge_body(amount=99), key="stay-1")

    assert error_of(answer) == (422, "idempotency_error", None)
    assert bank.balance()["charged"] == 12500


def test_a_key_used_for_a_charge_cannot_be_used_for_a_refund(bank):
    charge = bank.post("/v1/charges", charge_body(), key="stay-1").json()

    answer = bank.post("/v1/refunds", {"charge": charge["id"]}, key="stay-1")

    assert error_of(answer) == (422, "idempotency_error", None)
    assert bank.balance()["refunded"] == 0


@pytest.mark.parametrize("number, code", [("4000000000000002", "card_declined"),
                                          ("4000000000009995", "insufficient_funds")])
def test_a_declined_card_answers_402_and_is_recorded_as_a_failed_charge(bank, number, code):
    answer = bank.post("/v1/charges", charge_body(number, reference="BK-DECL"), key="declined")
    again = bank.post("/v1/charges", charge_body(number, reference="BK-DECL"), key="declined")

    assert error_of(answer) == (402, "card_error", code)
    [failed] = bank.charges(reference="BK-DECL")
    assert failed["id"] == answer.json()["error"]["charge"]
    assert (failed["status"], failed["failure_code"], failed["card"]["last4"]) == ("failed", code, number[-4:])
    assert (again.status_code, again.text) == (402, answer.text)
    assert bank.balance()["charged"] == 0


def test_when_the_bank_fails_nothing_is_recorded_and_the_key_stays_free(bank):
    failing = charge_body("4000000000000119", reference="BK-FAIL")

    answers = [bank.post("/v1/charges", failing, key="failing") for _ in range(2)]
    assert [error_of(answer) for answer in answers] == [(500, "api_error", None)] * 2
    assert bank.charges(reference="BK-FAIL") == []
    assert bank.charges(idempotency_key="failing") == []

    retried = bank.post("/v1/charges", charge_body(reference="BK-FAIL"), key="failing")
    assert retried.status_code == 201, retried.text
    assert bank.balance()["charged"] == 12500


def test_a_token_stands_for_its_card_for_one_charge_only(bank):
    created = bank.post("/v1/tokens", {"card": card()})
    assert created.status_code == 201, created.text
    token = created.json()
    assert token["id"].startswith("tok_")
    assert token["card"] == {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": date.today().year + 3}
    assert VISA not in created.text and CVC not in created.text

    paid = bank.post("/v1/charges", token_charge_body(token["id"]), key="by-token")
    reused = bank.post("/v1/charges", token_charge_body(token["id"]), key="by-token-again")

    assert paid.status_code == 201, paid.text
    assert paid.json()["card"] == {"brand": "visa", "last4": "4242"}
    assert error_of(reused) == (400, "invalid_request_error", "invalid_token")
    assert bank.balance()["charged"] == 12500


@pytest.mark.parametrize("change, code", [
    ({"number": "4242 4242 4242 4241"}, "invalid_number"),
    ({"exp_year": date.today().year - 1}, "invalid_expiry"),
    ({"cvc": "12"}, "invalid_cvc"),
    ({"holder": ""}, "invalid_holder"),
])
def test_an_invalid_card_is_refused_with_a_code_and_charges_nothing(bank, change, code):
    tokenized = bank.post("/v1/tokens", {"card": {**card(), **change}})
    charged = bank.post("/v1/charges", charge_body() | {"card": {**card(), **change}}, key="invalid-card")

    assert error_of(tokenized) == error_of(charged) == (400, "invalid_request_error", code)
    assert bank.charges(idempotency_key="invalid-card") == []


def test_the_publishable_key_tokenizes_cards_and_can_do_nothing_else(bank):
    """What the internet-facing gateway holds: it cannot charge, refund or read."""
    publishable = requests.Session()
    publishable.headers["Authorization"] = "Bearer pk_test_booking"
    token = publishable.post(bank.url("/v1/tokens"), json={"card": card()}, timeout=HTTP_TIMEOUT_SECONDS)
    assert token.status_code == 201, token.text

    charged = publishable.post(bank.url("/v1/charges"), json=token_charge_body(token.json()["id"]),
                               headers={"Idempotency-Key": "publishable"}, timeout=HTTP_TIMEOUT_SECONDS)
    listed = publishable.get(bank.url("/v1/charges"), timeout=HTTP_TIMEOUT_SECONDS)
    balance = publishable.get(bank.url("/v1/balance"), timeout=HTTP_TIMEOUT_SECONDS)
    assert error_of(charged) == error_of(listed) == error_of(balance) == (403, "permission_error", None)
    assert bank.charges(idempotency_key="publishable") == []
    assert bank.post("/v1/charges", token_charge_body(token.json()["id"]), key="secret").status_code == 201


@pytest.mark.parametrize("authorization", [None, "Bearer sk_test_booking", f"Basic {API_KEY}", f"Bearer {API_KEY}x"],
                         ids=["missing", "the-default-key", "not-bearer", "wrong-key"])
def test_a_request_without_the_right_api_key_is_refused(bank, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    bare = requests.Session()  # without the fixture's Authorization header

    charged = bare.post(bank.url("/v1/charges"), json=charge_body(), timeout=HTTP_TIMEOUT_SECONDS,
                        headers={"Idempotency-Key": "unauthorized", **headers})
    balance = bare.get(bank.url("/v1/balance"), headers=headers, timeout=HTTP_TIMEOUT_SECONDS)

    assert error_of(charged) == error_of(balance) == (401, "authentication_error", None)
    assert bank.charges(idempotency_key="unauthorized") == []


def test_a_charge_or_refund_without_an_idempotency_key_is_refused(bank):
    charge = bank.post("/v1/charges", charge_body(), key="stay-1").json()

    unkeyed_charge = bank.post("/v1/charges", charge_body(reference="BK-NOKEY"))
    unkeyed_refund = bank.post("/v1/refunds", {"charge": charge["id"]})

    assert error_of(unkeyed_charge) == error_of(unkeyed_refund) == (
        400, "invalid_request_error", "parameter_missing")
    assert unkeyed_charge.json()["error"]["param"] == "Idempotency-Key"
    assert bank.charges(reference="BK-NOKEY") == []
    assert bank.balance() == {"charged": 12500, "refunded": 0, "net": 12500, "currency": "EUR"}


def test_a_charge_is_refunded_in_full_once(bank):
    charge = bank.post("/v1/charges", charge_body(), key="stay-1").json()

    refund = bank.post("/v1/refunds", {"charge": charge["id"]}, key="cancel-1")
    second = bank.post("/v1/refunds", {"charge": charge["id"]}, key="cancel-2")

    assert refund.status_code == 201, refund.text
    assert refund.json()["id"].startswith("re_")
    assert {name: refund.json()[name] for name in ("object", "charge", "amount", "status")} == {
        "object": "refund", "charge": charge["id"], "amount": 12500, "status": "succeeded"}
    assert error_of(second) == (400, "invalid_request_error", "charge_already_refunded")
    assert bank.get(f"/v1/charges/{charge['id']}").json()["refunded_amount"] == 12500
    assert bank.balance() == {"charged": 12500, "refunded": 12500, "net": 0, "currency": "EUR"}


def test_a_partial_refund_then_the_rest_and_never_more(bank):
    charge = bank.post("/v1/charges", charge_body(amount=1000), key="stay-1").json()

    part = bank.post("/v1/refunds", {"charge": charge["id"], "amount": 300}, key="part")
    replayed = bank.post("/v1/refunds", {"charge": charge["id"], "amount": 300}, key="part")
    too_much = bank.post("/v1/refunds", {"charge": charge["id"], "amount": 701}, key="too-much")
    rest = bank.post("/v1/refunds", {"charge": charge["id"]}, key="rest")

    assert part.status_code == 201, part.text
    assert (replayed.status_code, replayed.text) == (201, part.text)
    assert error_of(too_much) == (400, "invalid_request_error", "amount_too_large")
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == 700
    assert bank.get(f"/v1/charges/{charge['id']}").json()["refunded_amount"] == 1000
    assert bank.balance() == {"charged": 1000, "refunded": 1000, "net": 0, "currency": "EUR"}


def test_a_failed_or_unknown_charge_cannot_be_refunded(bank):
    declined = bank.post("/v1/charges", charge_body("4000000000000002"), key="declined").json()

    of_failed = bank.post("/v1/refunds", {"charge": declined["error"]["charge"]}, key="refund-failed")
    of_unknown = bank.post("/v1/refunds", {"charge": "ch_000000000000000000000000"}, key="refund-unknown")

    assert error_of(of_failed) == (400, "invalid_request_error", "charge_not_refundable")
    assert error_of(of_unknown) == (404, "invalid_request_error", "resource_missing")
    assert bank.balance()["refunded"] == 0


def test_charges_are_found_by_id_by_reference_oldest_first_and_by_idempotency_key(bank):
    ids = [bank.post("/v1/charges", charge_body(reference=reference, amount=amount), key=key).json()["id"]
           for reference, amount, key in [("BK-A", 1000, "a-1"), ("BK-B", 2000, "b-1"), ("BK-A", 3000, "a-2")]]

    assert [charge["id"] for charge in bank.charges(reference="BK-A")] == [ids[0], ids[2]]
    assert [charge["amount"] for charge in bank.charges(idempotency_key="b-1")] == [2000]
    assert bank.charges(idempotency_key="never-used") == bank.charges(reference="BK-NONE") == []
    assert bank.get(f"/v1/charges/{ids[1]}").json() == bank.charges(reference="BK-B")[0]
    assert error_of(bank.get("/v1/charges/ch_000000000000000000000000")) == (
        404, "invalid_request_error", "resource_missing")
    assert bank.get("/v1/charges").status_code == 400


def test_simultaneous_requests_with_one_key_make_one_charge(bank):
    answers = []

    def pay():
        answers.append(requests.post(bank.url("/v1/charges"), json=charge_body(), timeout=HTTP_TIMEOUT_SECONDS,
                                     headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "race"}))

    threads = [threading.Thread(target=pay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {(answer.status_code, answer.text) for answer in answers} == {(201, answers[0].text)}
    assert len(bank.charges(idempotency_key="race")) == 1
    assert bank.balance()["charged"] == 12500


def test_answers_are_kept_in_the_ledger_across_a_restart(start_bank):
    first_bank = start_bank()
    first = first_bank.post("/v1/charges", charge_body(), key="stay-1")
    assert first_bank.terminate() == 0

    second_bank = start_bank()
    again = second_bank.post("/v1/charges", charge_body(), key="stay-1")

    assert (again.status_code, again.text) == (201, first.text)
    assert second_bank.balance()["charged"] == 12500


def test_with_failure_rate_1_a_recorded_charge_answers_503_and_a_retry_finds_it(start_bank):
    bank = start_bank("--failure-rate", "1")

    unknown = bank.post("/v1/charges", charge_body(), key="unknown-outcome")
    [settled] = bank.charges(idempotency_key="unknown-outcome")
    retried = bank.post("/v1/charges", charge_body(), key="unknown-outcome")

    assert error_of(unknown) == (503, "api_error", None)
    assert settled["status"] == "succeeded"
    assert retried.status_code == 201, retried.text
    assert retried.json()["id"] == settled["id"]
    assert bank.balance()["charged"] == 12500


@pytest.mark.parametrize("method, path, body, status", [
    ("GET", "/v1/refunds", None, 405),
    ("GET", "/v2/charges", None, 404),
    ("GET", "/v1//balance", None, 404),
    ("POST", "/v1/tokens", b"{not json", 400),
    ("POST", "/v1/tokens", b"[1, 2]", 400),
    ("POST", "/v1/tokens", b"[" * 100_000, 413),
    ("GET", "/v1/charges?customer=ada", None, 400),
    ("GET", "/v1/balance?currency=euro", None, 400),
])
def test_an_odd_request_is_answered_with_a_json_error_and_the_bank_goes_on(bank, method, path, body, status):
    answer = bank.http.request(method, bank.url(path), data=body, timeout=HTTP_TIMEOUT_SECONDS,
                               headers={"Idempotency-Key": "odd"})

    assert answer.status_code == status
    assert answer.json()["error"]["type"] == "invalid_request_error"
    assert bank.get("/v1/balance").status_code == 200


def test_latency_delays_every_answer(start_bank):
    bank = start_bank("--latency-ms", "200")

    started = time.monotonic()
    answer = bank.get("/v1/balance")

    assert answer.status_code == 200
    assert time.monotonic() - started >= 0.2


def test_sigterm_stops_the_bank_promptly_and_cleanly(bank):
    assert bank.terminate() == 0
    assert not is_listening("127.0.0.1", bank.port)
    assert "Sandbox bank stopped" in bank.log.read_text()


def test_a_busy_port_is_refused_in_one_line(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        refused = subprocess.run(
            [sys.executable, "-m", "booking.devstack.bank", "--port", str(port),
             "--ledger", str(tmp_path / "bank.db")],
            capture_output=True, text=True, timeout=START_TIMEOUT_SECONDS,
        )

    assert refused.returncode == 1
    assert refused.stderr.strip() == f"The sandbox bank cannot listen on 127.0.0.1:{port}: Address already in use"


def test_neither_the_ledger_nor_the_log_holds_a_card_number_or_cvc(bank, tmp_path):
    started = int(time.time())
    token = bank.post("/v1/tokens", {"card": card()}).json()["id"]
    answers = [
        bank.post("/v1/charges", charge_body(), key="leak-card"),
        bank.post("/v1/charges", charge_body(source=token), key="leak-card-and-token"),  # refused: one or other
        bank.post("/v1/charges", token_charge_body(token), key="leak-token"),
        bank.post("/v1/charges", charge_body("4000000000000002"), key="leak-declined"),
        bank.post("/v1/charges", charge_body("4000000000000119"), key="leak-failing"),
    ]
    answers.append(bank.post("/v1/refunds", {"charge": answers[0].json()["id"], "amount": 100}, key="leak-refund"))
    assert [answer.status_code for answer in answers] == [201, 400, 201, 402, 500, 201]
    # what the bank rightly writes that might spell the CVC by chance: ids, times, its port
    times = range(started - 1, int(time.time()) + 2)
    noise = {str(second).encode() for second in times} | {str(bank.port).encode()}

    def scrubbed(data):
        data = IDS.sub(b"", data)
        for value in noise:
            data = data.replace(value, b"")
        return data

    with sqlite3.connect(bank.ledger) as connection:
        tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [row for table in tables for row in connection.execute(f"SELECT * FROM {table}")]
    connection.close()
    assert len(rows) == 3 + 1 + 4  # charges (one declined), the refund, the kept answers
    cells = "\n".join(str(cell) for row in rows for cell in row).encode()
    raw = b"".join(path.read_bytes() for path in tmp_path.glob("bank.db*"))
    assert bank.terminate() == 0
    log = bank.log.read_bytes()

    assert b"leak-card" in cells and b"leak-card" in raw and b"key=leak-card" in log  # each was read whole
    for data in (cells, raw, log):
        assert VISA.encode() not in data
        assert b"4242 4242 4242 4242" not in data
        assert CVC.encode() not in scrubbed(data)
        assert token.encode() not in data
