"""The HTTP edge of Booking."""
