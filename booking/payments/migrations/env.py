from booking.kit.migrations import run_migrations
from booking.payments.models import Base

run_migrations(Base.metadata)
