#!/bin/sh
# One-shot job (temporalio/admin-tools): creates Temporal's two PostgreSQL databases and brings their
# schemas to this image's version, as temporalio's own compose sample does. Safe to re-run: `create`
# tolerates an existing database and `update-schema` applies only what is missing, so the same job
# upgrades the schema when the admin-tools/server tags are bumped together.
# Env: SQL_PASSWORD (read by temporal-sql-tool), SQL_HOST (default temporal-postgres).
set -eu

host="${SQL_HOST:-temporal-postgres}"
schemas=/etc/temporal/schema/postgresql/v12

echo "waiting for PostgreSQL at $host:5432"
tries=0
until nc -z -w 5 "$host" 5432; do
  tries=$((tries + 1))
  [ "$tries" -lt 30 ] || { echo "PostgreSQL at $host:5432 never answered" >&2; exit 1; }
  sleep 2
done

sql() { temporal-sql-tool --plugin postgres12 --ep "$host" -p 5432 -u temporal "$@"; }

sql --db temporal create
sql --db temporal setup-schema -v 0.0
sql --db temporal update-schema -d "$schemas/temporal/versioned"

sql --db temporal_visibility create
sql --db temporal_visibility setup-schema -v 0.0
sql --db temporal_visibility update-schema -d "$schemas/visibility/versioned"

echo "temporal schemas are up to date"
