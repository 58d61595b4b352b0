#!/bin/sh
# docker-compose.yml, service temporal-namespace (image temporalio/admin-tools): waits until the
# Temporal cluster is healthy, then creates the namespace CloudGreet runs in if it does not exist.
# The temporal CLI reads TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE from the environment.
set -eu

attempts=0
until temporal operator cluster health >/dev/null 2>&1; do
  attempts=$((attempts + 1))
  if [ "$attempts" -ge 60 ]; then
    echo "Temporal at $TEMPORAL_ADDRESS is not healthy after 2 minutes" >&2
    exit 1
  fi
  sleep 2
done

if temporal operator namespace describe >/dev/null 2>&1; then
  echo "namespace $TEMPORAL_NAMESPACE exists"
else
  # A week of finished calls' histories in the Temporal UI; CloudGreet's own records stay in its database.
  temporal operator namespace create --retention 7d
  echo "namespace $TEMPORAL_NAMESPACE created"
fi
