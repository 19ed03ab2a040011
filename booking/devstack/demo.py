"""The demo accounts of the local profile (`DEMO_ACCOUNTS: true` in config.yaml only;
never in the PostgreSQL or deployment profiles), and the operator's commands.

- `guest@example.com`, with a stay that is over and one to come;
- `manager@example.com`, the manager of three demo hotels (Le Petit Paris if the
  catalogue has it, else Paris hotels first);
both with the password `DEMO_PASSWORD` (default "booking demo 2026").

The accounts, the manager's hotels and the past stay are written into the
databases before the services start; the stay to come is booked and paid through
the API once they run, as a guest would (so that payments and the bank agree). Each
step looks first and does nothing twice.
"""
import time
from datetime import UTC, date, datetime, timedelta

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from booking.kit.config import db_uri
from booking.kit.database import create_db_engine

GUEST, MANAGER = "guest@example.com", "manager@example.com"
DEFAULT_PASSWORD = "booking demo 2026"
MANAGED_HOTELS = 3


def password_of(config):
    return config.get("DEMO_PASSWORD") or DEFAULT_PASSWORD


def session_of(config, service):
    return Session(create_db_engine(db_uri(config, service)))


def account(session, email, full_name, role, password, hashing):
    """The account of `email`, made if missing (with `role`, its password hashed by
    `hashing`); its id."""
    from booking.users.models import User

    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(email=email, full_name=full_name, role=role, created_at=datetime.now(UTC),
                    password_hash=hashing.hash(password), welcome_sent_at=datetime.now(UTC))
        session.add(user)
        session.flush()
    elif role != "guest" and user.role == "guest":
        user.role = role
    return user.id


def demo_hotels(session):
    """Le Petit Paris if there is one, then Paris hotels, then any: three."""
    from booking.search.models import Hotel

    hotels = list(session.scalars(select(Hotel).order_by(Hotel.id)))
    ranked = sorted(hotels, key=lambda hotel: (hotel.name != "Le Petit Paris", hotel.city != "Paris", hotel.id))
    return ranked[:MANAGED_HOTELS]


def seed_accounts(config, out):
    """The two accounts, the manager's hotels and the guest's past stay."""
    from booking.search import partner
    from booking.search.seed import restricted
    from booking.users.passwords import PasswordHashing

    password, hashing = password_of(config), PasswordHashing.from_config(config)
    with session_of(config, "users") as session, session.begin():
        guest_id = account(session, GUEST, "Grace Guest", "guest", password, hashing)
        manager_id = account(session, MANAGER, "Manon Manager", "manager", password, hashing)
    with session_of(config, "search") as session, session.begin():
        hotels = demo_hotels(session)
        for hotel in hotels:
            partner.grant(session, hotel.id, manager_id)
        stayed = next((hotel for hotel in hotels if not restricted(hotel.id) and hotel.room_types), None)
        past = stay_facts(stayed) if stayed else None
        names = ", ".join(hotel.name for hotel in hotels)
    if past:
        with session_of(config, "reservations") as session, session.begin():
            past_stay(session, guest_id, past)
    print(f"Demo accounts: {GUEST} and {MANAGER} (manager of {names}), password {password!r}", file=out, flush=True)


def stay_facts(hotel):
    room = hotel.room_types[0]
    return {"hotel_id": hotel.id, "hotel_name": hotel.name, "hotel_address": f"{hotel.address}, {hotel.city}",
            "room_type": room.code, "room_name": room.name, "price_minor": room.price_minor,
            "currency": hotel.currency, "timezone": hotel.timezone}


def past_stay(session, guest_id, facts):
    """Two nights a month ago, checked out: what a returning guest has."""
    from booking.reservations.models import BookedRoom, Reservation

    reference = "BKDEMOPAST"
    if session.get(Reservation, reference) is not None:
        return
    check_in = date.today() - timedelta(days=30)
    check_out = check_in + timedelta(days=2)
    price = facts["price_minor"]
    nights = [{"date": (check_in + timedelta(days=n)).isoformat(), "price_minor": price} for n in range(2)]
    now = datetime.now(UTC)
    reservation = Reservation(
        id=reference, user_id=guest_id, idempotency_key="demo-past", request_hash="demo", hotel_id=facts["hotel_id"],
        hotel_name=facts["hotel_name"], hotel_address=facts["hotel_address"], room_type=facts["room_type"],
        room_name=facts["room_name"], check_in=check_in, check_out=check_out, guests=2, rooms=1,
        nightly_price_minor=price, total_minor=2 * price, currency=facts["currency"], timezone=facts["timezone"],
        status="checked_out", status_reason="check_out_by_hotel", expires_at=now, created_at=now, updated_at=now)
    reservation.lines.append(BookedRoom(
        line=1, room_type=facts["room_type"], room_name=facts["room_name"], rate_plan="flexible",
        rate_plan_name="Flexible", adults=2, children=[], check_in=check_in, check_out=check_out, nights=nights,
        price_minor=2 * price, city_tax_minor=0, total_minor=2 * price, penalty_minor=price, status="active",
        policy={"free_until_hours": 24, "penalty": "first_night", "penalty_percent": None}))
    session.add(reservation)


def book_future_stay(config, base_url, out, timeout=60):
    """A confirmed stay to come for the demo guest, booked and paid through the API
    (the sandbox bank's test card), unless the guest has one already."""
    api = requests.Session()
    login = api.post(f"{base_url}/api/v1/auth/login", json={"email": GUEST, "password": password_of(config)},
                     timeout=15)
    login.raise_for_status()
    api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    mine = api.get(f"{base_url}/api/v1/reservations", timeout=15).json()["items"]
    if any(item["status"] == "confirmed" and item["check_in"] > date.today().isoformat() for item in mine):
        return
    from booking.search.seed import restricted

    with session_of(config, "search") as session:
        stayed = next(hotel for hotel in demo_hotels(session) if not restricted(hotel.id) and hotel.room_types)
        hotel_id, room_type = stayed.id, stayed.room_types[0].code
    check_in = date.today() + timedelta(days=21)
    held = api.post(f"{base_url}/api/v1/reservations", headers={"Idempotency-Key": f"demo-{check_in}"}, timeout=15,
                    json={"hotel_id": hotel_id, "room_type": room_type, "guests": 2, "check_in": check_in.isoformat(),
                          "check_out": (check_in + timedelta(days=3)).isoformat()})
    held.raise_for_status()
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": date.today().year + 3, "cvc": "123",
            "holder": "Grace Guest"}
    paid = api.post(f"{base_url}/api/v1/reservations/{held.json()['id']}/payment", json={"card": card},
                    headers={"Idempotency-Key": f"demo-pay-{check_in}"}, timeout=30)
    paid.raise_for_status()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.get(f"{base_url}/api/v1/reservations/{held.json()['id']}", timeout=15).json()["status"] == "confirmed":
            print(f"Demo guest's stay to come: {held.json()['id']}", file=out, flush=True)
            return
        time.sleep(0.5)


# -- the operator's commands (`booking admin ...`): straight to the databases, as the
# platform's operator on its machine; the admin API does the same over HTTP

def set_role(config, email, role):
    """Give the account of `email` a role; its id (LookupError: no such account). It
    takes effect at the next login."""
    from booking.users.models import User
    from booking.users.schemas import normalise_email

    with session_of(config, "users") as session, session.begin():
        user = session.scalar(select(User).where(User.email == normalise_email(email)))
        if user is None:
            raise LookupError(f"no account has the e-mail address {email}: sign up first")
        if not (role == "manager" and user.role == "operator"):
            user.role = role
        return user.id


def grant_manager(config, hotel_id, email):
    """`email` manages `hotel_id` (a manager from now on, if a guest so far)."""
    from booking.search import partner
    from booking.search.models import Hotel

    with session_of(config, "search") as session:
        if session.get(Hotel, hotel_id) is None:
            raise LookupError(f"there is no hotel {hotel_id}")
    user_id = set_role(config, email, "manager")
    with session_of(config, "search") as session, session.begin():
        partner.grant(session, hotel_id, user_id)


def create_hotel(config, fields):
    """A new hotel; its id."""
    from booking.kit.schemas import load
    from booking.search import partner
    from booking.search.schemas import NewHotel

    request = load(NewHotel(), fields)
    with session_of(config, "search") as session, session.begin():
        return partner.create_hotel(session, request).id
