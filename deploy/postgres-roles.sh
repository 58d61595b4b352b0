#!/usr/bin/env bash
# docker-compose.yml, service postgres: run once by the image's entrypoint, as the superuser, when
# the server starts on an empty volume (/docker-entrypoint-initdb.d). On a volume made before this
# script existed, run it by hand: docker compose exec postgres bash /docker-entrypoint-initdb.d/postgres-roles.sh
#
# Least privilege: CloudGreet's role owns its one database and Temporal's role owns Temporal's two;
# neither is a superuser, may create roles or databases, or may even connect to the other's.
# The passwords reach psql as variables (:'name'), quoted by psql, never pasted into the SQL.
set -euo pipefail

psql --no-psqlrc --set ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  --set cloudgreet_password="${CLOUDGREET_DB_PASSWORD:?}" \
  --set temporal_password="${TEMPORAL_DB_PASSWORD:?}" <<'SQL'
CREATE ROLE cloudgreet LOGIN PASSWORD :'cloudgreet_password';
CREATE DATABASE cloudgreet OWNER cloudgreet;

-- Temporal's schema (temporal_visibility included) is made by the service temporal-schema, as this role.
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;

-- PostgreSQL lets every role connect to a new database; here only its owner (and the superuser) may.
REVOKE ALL ON DATABASE cloudgreet, temporal, temporal_visibility, postgres FROM PUBLIC;
SQL
