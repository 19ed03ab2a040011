"""Who the guest is, for the login limits: behind the trusted proxies only, the
address they forward; a client cannot name itself another address."""
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from entrypoints.gateway.http import client_address, trusted_proxies

PROXIES = trusted_proxies({"TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.10"})


def request(peer, forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return Request(EnvironBuilder(headers=headers, environ_base={"REMOTE_ADDR": peer}).get_environ())


def test_without_trusted_proxies_the_peer_is_the_guest_whatever_it_forwards():
    assert client_address(request("203.0.113.5", "198.51.100.1"), []) == "203.0.113.5"
    assert trusted_proxies({}) == [] and trusted_proxies({"TRUSTED_PROXIES": ""}) == []


def test_behind_a_trusted_proxy_the_guest_is_the_address_it_forwards():
    assert client_address(request("10.1.2.3", "198.51.100.1"), PROXIES) == "198.51.100.1"


def test_an_address_the_client_wrote_before_the_proxies_is_not_believed():
    # the client sent "X-Forwarded-For: 1.2.3.4"; the proxies appended the real one
    assert client_address(request("10.1.2.3", "1.2.3.4, 198.51.100.1, 192.0.2.10"), PROXIES) == "198.51.100.1"


def test_an_untrusted_peer_cannot_forward_and_nonsense_is_skipped():
    assert client_address(request("203.0.113.5", "10.1.2.3"), PROXIES) == "203.0.113.5"
    assert client_address(request("10.1.2.3", "not an address, 198.51.100.7"), PROXIES) == "198.51.100.7"
    assert client_address(request("10.1.2.3"), PROXIES) == "10.1.2.3"
