-- Runs once, when the postgres volume is first initialised (docker-entrypoint-initdb.d).
-- The metadata DB (POSTGRES_DB, "airflow") is created by the image; this adds the loop's
-- stores database, owned by the same user (RINGRIFT_DATABASE_URL points at it).
CREATE DATABASE ringrift;
