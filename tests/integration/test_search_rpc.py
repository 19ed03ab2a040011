"""The search service in a real container on the real broker, called over RPC."""
import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_hook

from booking.kit.errors import ValidationFailed
from booking.search.exceptions import HotelNotFound
from booking.search.service import SearchService


@pytest.fixture
def search_config(config, catalogue_db_uri):
    return {**config, "DB_URIS": {"search": catalogue_db_uri}}


@pytest.fixture
def search_container(container_factory, search_config):
    container = container_factory(SearchService, search_config)
    container.start()
    return container


def test_find_hotels_over_rpc(search_container, search_config):
    with ServiceRpcProxy("search", search_config) as search:
        page = search.find_hotels(city="Paris", sort="name")
    assert [hotel["name"] for hotel in page["items"]] == ["Grand Hôtel", "Le Petit Paris"]


def test_errors_come_back_as_the_same_typed_exceptions(search_container, search_config):
    with ServiceRpcProxy("search", search_config) as search:
        with pytest.raises(HotelNotFound) as missing:
            search.get_hotel(404)
        with pytest.raises(ValidationFailed) as invalid:
            search.find_hotels(per_page=100000)
    assert missing.value.details == {"hotel_id": "404"}
    assert "per_page" in invalid.value.details


def test_list_cities_through_the_entrypoint(search_container):
    with entrypoint_hook(search_container, "list_cities") as list_cities:
        assert [city["name"] for city in list_cities()] == ["Paris", "Zürich"]
