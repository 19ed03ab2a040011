# nameko runs on eventlet: patch before anything imports socket or threading
import eventlet

eventlet.monkey_patch()  # noqa: E402

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
import warnings  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import pytest  # noqa: E402

from booking.devstack.broker import amqp_answers  # noqa: E402
from booking.devstack.ports import free_port, is_listening  # noqa: E402
from booking.devstack.postgres import LocalPostgres  # noqa: E402
from booking.kit.config import PROJECT_ROOT, load_config  # noqa: E402
from booking.kit.logs import RefusalsInOneLine  # noqa: E402
from booking.kit.migrations import upgrade  # noqa: E402
from tests import TEST_AMQP_PORT, TEST_MANAGEMENT_PORT, shared_broker  # noqa: E402

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
# the services the tests start in this process log refusals as the profiles' LOGGING makes them
logging.getLogger("nameko.containers").addFilter(RefusalsInOneLine())


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item, settings):
    """A test past its timeout fails where it waits, and its fixtures clean up.
    Under eventlet, pytest-timeout's own timer is a thread (it takes the patched
    thread for another than the main one) that can print only its own stack and
    then ends the process, leaving the test's brokers and stacks running. An
    eventlet.Timeout raises in the test's greenlet instead; the thread stays, a
    minute later, for a test stuck outside eventlet."""
    import pytest_timeout

    timeout = eventlet.Timeout(settings.timeout)
    pytest_timeout.pytest_timeout_set_timer(item, settings._replace(method="thread", timeout=settings.timeout + 60))
    backstop = item.cancel_timeout

    def cancel():
        timeout.cancel()
        backstop()
    item.cancel_timeout = cancel
    return True


@pytest.fixture(scope="session")
def broker(request):
    """The AMQP URI of a running broker with its management API: AMQP_URI and
    RABBIT_API_URI if set (tests/run.py sets them for every part of `make test`),
    else the tests' own node, started if it does not answer."""
    uri = os.environ.get("AMQP_URI")
    api = os.environ.get("RABBIT_API_URI", "http://guest:guest@localhost:15672")
    node = None
    if not uri:
        uri = f"pyamqp://guest:guest@localhost:{TEST_AMQP_PORT}/"
        api = f"http://guest:guest@localhost:{TEST_MANAGEMENT_PORT}"
        if not amqp_answers(uri):
            node = shared_broker()
            node.start()
    request.config.option.RABBIT_AMQP_URI = uri
    request.config.option.RABBIT_API_URI = api
    yield uri
    if node:
        node.stop(graceful=False)  # as tests/run.py does


@pytest.fixture(scope="session")
def rabbit_manager(request, broker):
    # nameko's own fixture, made to wait for the broker above
    from nameko.testing import rabbit

    return rabbit.Client(request.config.getoption("RABBIT_API_URI"))


@pytest.fixture(scope="session")
def postgres_server():
    server = LocalPostgres().start()
    yield server
    server.stop()


def database_uri(request, tmp_path, name, template=None):
    """A new, empty database for one test: an SQLite file, or a PostgreSQL database
    (a copy of the database `template`, if given)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/{name}.db"
    server = request.getfixturevalue("postgres_server")
    database = f"{name}_{uuid.uuid4().hex[:10]}"
    uri = server.create_database(database, template=template)
    request.addfinalizer(lambda: server.drop_database(database))
    return uri


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory):
    """The databases migrated once for the session, `made[(backend, service, with catalogue)]`
    (SQLite files in `folder`): each test gets a copy (a file copied, or PostgreSQL's CREATE DATABASE … TEMPLATE),
    as migrating every test's own databases took a sixth of the services' tests' CPU."""
    return SimpleNamespace(folder=tmp_path_factory.mktemp("migrated"), made={})


def migrated_database(request, tmp_path, service, catalogue=False):
    """A database of this test for `service`, at the newest revision (and holding
    `small_catalogue()` if asked), copied from the session's template of it."""
    templates = request.getfixturevalue("migrated_templates")
    key = (request.param, service, catalogue)
    if key not in templates.made:
        name = f"template_{service}{'_catalogue' if catalogue else ''}"
        if request.param == "sqlite":
            templates.made[key] = templates.folder / f"{name}.db"
            uri = f"sqlite:///{templates.made[key]}"
        else:
            templates.made[key] = name
            uri = request.getfixturevalue("postgres_server").create_database(name)
        upgrade(service, uri)
        if catalogue:
            add_small_catalogue(uri)
    if request.param == "sqlite":
        shutil.copyfile(templates.made[key], tmp_path / f"{service}.db")
        return f"sqlite:///{tmp_path}/{service}.db"
    return database_uri(request, tmp_path, service, template=templates.made[key])


@pytest.fixture(params=["sqlite", "postgresql"])
def search_db_uri(request, tmp_path):
    """The search service's database, migrated, on SQLite and on PostgreSQL."""
    return migrated_database(request, tmp_path, "search")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_uris(request, tmp_path):
    """A migrated database for every service, all on SQLite or all on PostgreSQL;
    search's holds `small_catalogue()`."""
    return {service: migrated_database(request, tmp_path, service, catalogue=service == "search")
            for service in ("users", "auth", "search", "reservations", "payments")}


def start_listening(port, *argv, output):
    """A helper process (`python -m …`) that is ready once it listens on `port`;
    what it prints goes to the file `output`."""
    with open(output, "ab") as log:
        process = subprocess.Popen([sys.executable, "-m", *argv], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not is_listening("127.0.0.1", port):
        assert time.monotonic() < deadline and process.poll() is None, f"{argv[0]} did not start"
        time.sleep(0.05)
    return process


def stop(process):
    process.terminate()
    process.wait(10)


# what the helper processes print, for a failing test to show and the secrets test to scan
PROCESS_OUTPUT = "processes.log"


@pytest.fixture
def mail_sink(tmp_path):
    """A real SMTP sink in its own process: (port, maildir)."""
    port, maildir = free_port(), tmp_path / "mail"
    process = start_listening(port, "booking.devstack.mailsink", "--port", str(port), "--maildir", str(maildir),
                              output=tmp_path / PROCESS_OUTPUT)
    yield port, maildir
    stop(process)


@pytest.fixture
def sandbox_bank(tmp_path):
    """The sandbox bank in its own process, with its own ledger: its URL."""
    process, url = start_sandbox_bank(tmp_path)
    yield url
    stop(process)


def start_sandbox_bank(tmp_path, *options, port=None):
    """(process, URL) of a sandbox bank started with these command-line options (on
    `port`, to start one again where it was)."""
    port = port or free_port()
    process = start_listening(port, "booking.devstack.bank", "--port", str(port),
                              "--ledger", str(tmp_path / "bank.db"), "--api-key", "sk_test_booking", *options,
                              output=tmp_path / PROCESS_OUTPUT)
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture
def config(rabbit_config, mail_sink):
    """The test profile with this test's broker vhost, web port and mail sink."""
    port, maildir = mail_sink
    return {
        **load_config(PROJECT_ROOT / "config" / "test.yaml"),
        **rabbit_config,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": port,
        "MAIL_DIR": str(maildir),
    }


def small_catalogue():
    """Four hotels whose every figure the search tests can reason about: each room
    type on one flexible plan at its nightly price (free until 48 hours before
    check-in, then the first night), and no rule in any calendar."""
    from booking.search.catalogue import fold
    from booking.search.models import Hotel, RatePlan, RoomType

    def hotel(id, name, city, stars, *rooms):
        return Hotel(
            id=id, name=name, address=f"{id} Main Street, {city}", city=city, city_key=fold(city),
            country="Somewhere", stars=stars, description=f"{name} in {city}.", amenities=["wifi"],
            timezone="Europe/Zurich" if city == "Zürich" else "Europe/Paris", currency="EUR",
            room_types=[
                RoomType(code=code, name=code.title(), max_guests=guests, max_occupancy=guests, room_count=count,
                         price_minor=price, currency="EUR", rate_plans=[
                             RatePlan(code="flexible", name="Flexible", price_minor=price, free_until_hours=48,
                                      penalty="first_night")])
                for code, guests, count, price in rooms
            ],
        )

    return [
        hotel(1, "Hotel Limmat", "Zürich", 4, ("double", 2, 10, 20000), ("family", 4, 3, 35000)),
        hotel(2, "Budget Inn", "Zürich", 2, ("single", 1, 8, 9000), ("double", 2, 12, 12000)),
        hotel(3, "Le Petit Paris", "Paris", 3, ("double", 2, 6, 15000)),
        hotel(4, "Grand Hôtel", "Paris", 5, ("double", 2, 20, 30000), ("suite", 4, 2, 60000)),
    ]


def add_small_catalogue(uri):
    from sqlalchemy.orm import Session

    from booking.kit.database import create_db_engine

    engine = create_db_engine(uri)
    with Session(engine) as session, session.begin():
        session.add_all(small_catalogue())
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalogue_db_uri(request, tmp_path):
    """The search database holding `small_catalogue()`, on SQLite and on PostgreSQL."""
    return migrated_database(request, tmp_path, "search", catalogue=True)


# Figures: what the fault, hostile-input and secrets tests measured, printed at the
# end of the run and kept in var/test/figures.json (the README quotes them).
FIGURES_FILE = PROJECT_ROOT / "var" / "test" / "figures.json"
_figures = {}


@pytest.fixture
def figures(request):
    """`figures["confirmed"] = 87`: a figure of this test, reported after the run."""
    return _figures.setdefault(request.node.nodeid, {})


def pytest_terminal_summary(terminalreporter):
    measured = {test: values for test, values in _figures.items() if values}
    if not measured:
        return
    terminalreporter.section("figures")
    for test, values in measured.items():
        terminalreporter.write_line(test)
        for name, value in values.items():
            terminalreporter.write_line(f"    {name}: {value}")
    FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    FIGURES_FILE.write_text(json.dumps(measured, indent=2, default=str) + "\n")
