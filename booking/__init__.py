"""Booking: a hotel-booking platform built as a family of Nameko services."""
import warnings

# nameko 2.14 is built on eventlet and pkg_resources, and both warn on import that
# they are old; the versions are pinned in setup.cfg, so the warnings say nothing new
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
