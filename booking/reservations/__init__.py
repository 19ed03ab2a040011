"""reservations: room inventory per night, holds and reservations."""
