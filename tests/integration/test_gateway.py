"""The gateway and search as real containers on the real broker, driven over HTTP."""
import re
import time
from datetime import date, timedelta
from urllib.parse import parse_qsl

import eventlet
import pytest
import requests
from nameko.rpc import rpc

from booking.search.service import SearchService
from entrypoints.gateway.service import GatewayService

RPC_TIMEOUT = 1.0


class Api(requests.Session):
    def __init__(self, base_url):
        super().__init__()
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        return super().request(method, self.base_url + url, *args, timeout=10, **kwargs)


@pytest.fixture
def gateway_config(config):
    return {**config, "RPC_TIMEOUT": RPC_TIMEOUT}


@pytest.fixture
def api(gateway_config):
    with Api(f"http://{gateway_config['WEB_SERVER_ADDRESS']}") as session:
        yield session


@pytest.fixture
def gateway(container_factory, gateway_config):
    container = container_factory(GatewayService, gateway_config)
    container.start()
    return container


@pytest.fixture
def search(container_factory, gateway_config, catalogue_db_uri):
    container = container_factory(SearchService, {**gateway_config, "DB_URIS": {"search": catalogue_db_uri}})
    container.start()
    return container


def assert_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == code
    assert set(body) == {"error", "message", "details"}
    assert "Traceback" not in response.text
    return body


def test_health(gateway, api):
    assert api.get("/health").json() == {"status": "ok"}


def test_cities_and_hotels(gateway, search, api):
    cities = api.get("/api/v1/cities").json()["items"]
    assert [(city["name"], city["hotel_count"]) for city in cities] == [("Paris", 2), ("Zürich", 2)]
    page = api.get("/api/v1/hotels", params={"city": "zurich", "sort": "stars"}).json()
    assert [hotel["name"] for hotel in page["items"]] == ["Hotel Limmat", "Budget Inn"]
    hotel = api.get("/api/v1/hotels/1").json()
    assert hotel["name"] == "Hotel Limmat"
    assert [room["code"] for room in hotel["room_types"]] == ["double", "family"]


@pytest.mark.parametrize("query, field", [
    ({"page": "0"}, "page"), ({"per_page": "100000"}, "per_page"), ({"guests": "two"}, "guests"),
    ({"colour": "blue"}, "colour"), ({"check_in": "2020-13-45", "check_out": "2020-13-46"}, "check_in"),
])
def test_bad_search_arguments_are_400_naming_the_field(gateway, search, api, query, field):
    body = assert_error(api.get("/api/v1/hotels", params=query), 400, "VALIDATION_ERROR")
    assert field in body["details"]


def test_unknown_hotel_and_route_are_404(gateway, search, api):
    body = assert_error(api.get("/api/v1/hotels/999"), 404, "HOTEL_NOT_FOUND")
    assert body["details"] == {"hotel_id": "999"}
    assert_error(api.get("/api/v1/nothing-here"), 404, "NOT_FOUND")


def test_search_not_running_is_503_at_once(gateway, api):
    started = time.monotonic()
    body = assert_error(api.get("/api/v1/hotels", params={"city": "Paris"}), 503, "SERVICE_UNAVAILABLE")
    assert body["details"] == {"service": "search"}
    assert time.monotonic() - started < RPC_TIMEOUT + 2
    assert api.get("/ready").status_code == 503


class SilentSearch:
    """A search service that takes far longer than the gateway will wait."""

    name = "search"

    @rpc
    def find_hotels(self, **criteria):
        eventlet.sleep(30)


def test_search_not_answering_in_time_is_503_after_the_timeout(gateway, container_factory,
                                                               gateway_config, api):
    container_factory(SilentSearch, gateway_config).start()
    started = time.monotonic()
    body = assert_error(api.get("/api/v1/hotels", params={"city": "Paris"}), 503, "SERVICE_UNAVAILABLE")
    elapsed = time.monotonic() - started
    assert RPC_TIMEOUT <= elapsed < RPC_TIMEOUT + 2
    assert "did not answer in time" in body["message"]


def test_ready_names_each_service(gateway, search, api):
    assert api.get("/ready").json() == {"status": "unavailable", "services": {
        "search": "up", "users": "unavailable", "auth": "unavailable", "reservations": "unavailable",
        "payments": "unavailable", "reports": "unavailable"}}
    assert api.get("/ready", params={"service": "search"}).status_code == 200


def test_search_page_lists_hotels_and_escapes_input(gateway, search, api):
    page = api.get("/", params={"city": "Paris"})
    assert page.status_code == 200
    assert "Grand Hôtel" in page.text and "Le Petit Paris" in page.text
    hostile = api.get("/", params={"city": "<script>alert(1)</script>"})
    assert hostile.status_code == 200
    assert "<script>alert(1)</script>" not in hostile.text
    assert "&lt;script&gt;" in hostile.text


def test_pages_ignore_parameters_they_do_not_use_and_the_json_api_does_not(gateway, search, api):
    page = api.get("/", params={"city": "Paris", "utm_source": "newsletter", "lang": "fr"})
    assert page.status_code == 200 and "Le Petit Paris" in page.text
    assert api.get("/hotels/4", params={"fbclid": "y", "guests": "2"}).status_code == 200
    assert_error(api.get("/api/v1/hotels", params={"city": "Paris", "utm_source": "x"}), 400, "VALIDATION_ERROR")
    assert "Cache-Control" not in page.headers  # a visitor's search may be cached; a guest's pages may not


def test_an_old_hotel_link_shows_the_hotel_and_asks_for_new_dates(gateway, search, api):
    past = (date.today() - timedelta(days=3)).isoformat()
    for stay in ({"check_in": past, "check_out": date.today().isoformat()},
                 {"check_in": "2031-05-03", "check_out": "2031-05-01"}):
        page = api.get("/hotels/4", params=stay)
        assert page.status_code == 200 and "Grand Hôtel" in page.text
        assert "Choose new dates for your stay" in page.text


def test_search_page_shows_validation_problems_in_the_form(gateway, search, api):
    page = api.get("/", params={"city": "Paris", "guests": "99"})
    assert page.status_code == 400
    assert "Please check your search" in page.text


def test_hotel_page_and_static_files(gateway, search, api):
    page = api.get("/hotels/4")
    assert page.status_code == 200 and "Suite" in page.text
    missing = api.get("/hotels/999")
    assert missing.status_code == 404 and "We could not find that" in missing.text
    assert api.get("/static/style.css").headers["Content-Type"].startswith("text/css")
    assert api.get("/static/../service.py").status_code == 404


def test_help_terms_and_privacy_are_linked_from_the_footer_of_every_page(gateway, search, api):
    for path in ("/help", "/terms", "/privacy", "/", "/hotels/4", "/login", "/no/such/page"):
        page = api.get(path)
        assert page.status_code == (404 if path == "/no/such/page" else 200), path
        footer = page.text[page.text.index('<footer'):]
        assert all(f'href="/{name}"' in footer for name in ("help", "terms", "privacy")), path
        assert page.text.index("Skip to content") < page.text.index('class="site-header"'), path
    privacy = api.get("/privacy").text
    assert "last four digits" in privacy and "support@booking.local" in privacy


def test_an_address_no_route_takes_is_a_404_page_with_the_site_navigation(gateway, api):
    for path in ("/no/such/page", "/hotels/not-a-number", "/bookings/"):
        page = api.get(path)
        assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html"), path
        assert "We could not find that" in page.text and 'aria-label="Account"' in page.text
        assert 'href="/login"' in page.text
    assert api.post("/no/such/page").status_code == 404
    # an address with a newline in it, that not even a catch-all takes: the same answers
    unrouted = api.patch("/api/v1/partner/hotels/T%0Ay")
    assert (unrouted.status_code, unrouted.json()["error"]) == (404, "NOT_FOUND")
    page = api.get("/hotels/x%0Ay")
    assert page.status_code == 404 and "We could not find that" in page.text and 'aria-label="Account"' in page.text
    assert api.get("/logout").status_code == 405  # a POST-only route keeps its 405


def test_a_search_page_past_the_last_shows_the_last_and_says_so(gateway, search, api):
    page = api.get("/", params={"city": "Paris", "per_page": "1", "page": "99"})
    assert page.status_code == 200
    assert "There is no page 99" in page.text and "Page 2 of 2" in page.text
    assert "Page 99" not in page.text


def test_a_search_for_more_guests_than_any_room_sleeps_says_how_many_the_largest_sleeps(gateway, search, api):
    page = api.get("/", params={"city": "Paris", "guests": "7"})
    assert "0 hotels in Paris" in page.text
    assert "No room in Paris sleeps 7 guests: the largest sleeps 4." in " ".join(page.text.split())
    assert "rooms=2" in page.text  # the same search with enough rooms
    two_rooms = api.get("/", params={"city": "Paris", "guests": "7", "rooms": "2"})
    assert "1 hotel in Paris with 2 rooms for 7 guests" in two_rooms.text
    assert "/hotels/4?guests=7&amp;rooms=2" in two_rooms.text
    nothing = api.get("/", params={"city": "Paris", "guests": "2", "min_stars": "5", "max_price": "100"})
    assert "0 hotels in Paris" in nothing.text and "the largest sleeps" not in nothing.text


def test_the_hotel_page_leads_back_to_the_same_results_with_their_filters_sort_and_page(gateway, search, api):
    results = api.get("/", params={"city": "Paris", "guests": "2", "min_stars": "3", "sort": "stars",
                                   "per_page": "1", "page": "2"})
    link = re.search(r'href="(/hotels/\d+\?[^"]+)"', results.text).group(1).replace("&amp;", "&")
    hotel = api.get(link)
    back = re.search(r'href="([^"]+)">← Hotels in Paris', hotel.text).group(1).replace("&amp;", "&")
    assert dict(parse_qsl(back[2:])) == {"city": "Paris", "guests": "2", "min_stars": "3", "sort": "stars",
                                         "per_page": "1", "page": "2"}
    # new dates on the hotel page keep the way back
    assert '<input type="hidden" name="sort" value="stars">' in hotel.text


def test_a_search_names_what_is_wrong_in_words_next_to_the_field(gateway, search, api):
    page = api.get("/", params={"city": "Paris", "guests": "11"})
    assert page.status_code == 400
    assert "<strong>Guests</strong>: Choose from 1 to 10." in page.text and "Must be greater" not in page.text
    assert 'name="guests" min="1" max="10" value="11" aria-invalid="true" aria-describedby="guests-error"' \
        in page.text and 'id="guests-error"' in page.text


def test_another_method_on_a_known_route_is_405_and_a_booking_write_needs_a_token_first(gateway, api):
    assert api.put("/api/v1/hotels").status_code == 405
    assert_error(api.get("/api/v1/no/such/route"), 404, "NOT_FOUND")
    unauthenticated = api.post("/api/v1/reservations", json={"hotel_id": 1})  # no token, no key
    assert_error(unauthenticated, 401, "UNAUTHORIZED")
