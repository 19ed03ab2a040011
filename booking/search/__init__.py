"""search: the hotel catalogue (hotels, room types, nightly prices) and queries on it."""
