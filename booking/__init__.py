"""Booking: a hotel-booking platform built as a family of Nameko services."""
