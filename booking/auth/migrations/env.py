from booking.auth.models import Base
from booking.kit.migrations import run_migrations

run_migrations(Base.metadata)
