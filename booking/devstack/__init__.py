"""Running Booking on one machine: the project's own broker node, a throwaway
PostgreSQL server for tests, and the supervisor behind `make run`."""
