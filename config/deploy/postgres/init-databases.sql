-- Run once, by the postgres:16 image, when its data volume is new
-- (mounted into /docker-entrypoint-initdb.d/). One database per service, owned by
-- POSTGRES_USER; the names are those of config/postgres.yaml's DB_URIS defaults.
-- (`booking migrate` would also create a missing one; here they exist from the start.)
CREATE DATABASE booking_search;
CREATE DATABASE booking_users;
CREATE DATABASE booking_auth;
CREATE DATABASE booking_reservations;
CREATE DATABASE booking_payments;
