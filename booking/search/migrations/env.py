from booking.kit.migrations import run_migrations
from booking.search.models import Base

run_migrations(Base.metadata)
