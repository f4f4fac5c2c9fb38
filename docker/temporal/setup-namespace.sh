#!/bin/sh
# One-shot job (temporalio/admin-tools): Genie's namespace and its seven Keyword search attributes
# (DESIGN §3a) exist before any Genie process starts. Idempotent: what exists is left alone.
# Env: TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE (the temporal CLI reads both), NAMESPACE_RETENTION.
set -eu

ns="${TEMPORAL_NAMESPACE:-default}"
attrs="GenieOrgId GenieApplicationId GenieModel GenieMode GenieNode GenieStatus GenieBatchId"

# Like temporalio's compose sample, talk to the frontend by its IPv4 address: the CLI may otherwise
# try an address the server does not listen on.
host="${TEMPORAL_ADDRESS%:*}"
port="${TEMPORAL_ADDRESS##*:}"
ip="$(getent ahosts "$host" | awk '/STREAM/ { print $1; exit }')"
export TEMPORAL_ADDRESS="${ip:-$host}:$port"

tries=0
until temporal operator cluster health >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "Temporal at $TEMPORAL_ADDRESS never became healthy" >&2; exit 1; }
  sleep 2
done

created=0
if ! temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  temporal operator namespace create --namespace "$ns" --retention "${NAMESPACE_RETENTION:-72h}"
  created=1
fi

for name in $attrs; do
  # A namespace created a moment ago may not be visible to every frontend call yet: retry briefly.
  tries=0
  until temporal operator search-attribute list --namespace "$ns" | grep -qw "$name"; do
    if temporal operator search-attribute create --namespace "$ns" --name "$name" --type Keyword; then
      created=1
      break
    fi
    tries=$((tries + 1))
    [ "$tries" -lt 15 ] || { echo "could not create search attribute $name" >&2; exit 1; }
    sleep 2
  done
done

# The server caches namespaces and their search attributes and refreshes them every few seconds; a
# workflow start that carries a Genie attribute before that refresh would be refused.
if [ "$created" -eq 1 ]; then
  echo "created; waiting for the server's namespace cache to pick it up"
  sleep 15
fi
temporal operator search-attribute list --namespace "$ns"
echo "namespace $ns is ready for Genie"
