#!/usr/bin/env bash
# Creates the pipeline's store database and its owner next to Airflow's metadata database.
#
# The postgres image runs the scripts of /docker-entrypoint-initdb.d once, when the data volume is empty.
# This one is idempotent (and re-syncs the owner's password), so on an existing volume run it by hand:
#   docker compose exec postgres bash /docker-entrypoint-initdb.d/10-chip-news-db.sh
set -euo pipefail

: "${NEWS_DB_PASSWORD:?NEWS_DB_PASSWORD is not set (see .env.example)}"

# psql variables (:'name') quote the values, so a password needs no escaping here; \gexec runs each
# generated statement on its own, as CREATE DATABASE cannot run inside a transaction.
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB}" \
  -v db="${NEWS_DB_NAME:-chip_news}" -v owner="${NEWS_DB_USER:-chip_news}" -v password="${NEWS_DB_PASSWORD}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'owner', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL

echo "chip-news: database ${NEWS_DB_NAME:-chip_news} owned by ${NEWS_DB_USER:-chip_news} is ready"
