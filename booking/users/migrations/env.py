from booking.kit.migrations import run_migrations
from booking.users.models import Base

run_migrations(Base.metadata)
