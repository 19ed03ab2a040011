from booking.kit.migrations import run_migrations
from booking.reservations.models import Base

run_migrations(Base.metadata)
