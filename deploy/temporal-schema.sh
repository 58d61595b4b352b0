#!/bin/sh
# docker-compose.yml, service temporal-schema (image temporalio/admin-tools), as the role `temporal`
# (SQL_* variables): Temporal's tables in its two databases, which deploy/postgres-roles.sh made.
#
# Safe at every start: setup-schema adds only missing version tables and never lowers the version,
# and update-schema applies only the versions a database lacks. The SQL is the tool's own
# (--schema-name), so the schema always matches the image: move this image and temporalio/server
# to a new version together, and the next `docker compose up` upgrades the schema before the server starts.
set -eu

schema() {
  temporal-sql-tool --database "$1" setup-schema --version 0.0
  temporal-sql-tool --database "$1" update-schema --schema-name "postgresql/v12/$2"
}

schema temporal temporal
schema temporal_visibility visibility
