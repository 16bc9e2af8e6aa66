#!/bin/bash
# First start on an empty PGDATA: initdb with POSTGRES_USER as the superuser and
# POSTGRES_PASSWORD (scram-sha-256 over TCP, trust on the local socket), then POSTGRES_DB.
# Every start: exec the server in the foreground, listening on every address.
set -euo pipefail

if [[ ${1:-} == -* ]]; then set -- postgres "$@"; fi
if [[ ${1:-} != postgres ]]; then exec "$@"; fi

: "${PGDATA:?PGDATA must be set}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
log() { echo "docker-entrypoint: $*" >&2; }

mkdir -p "$PGDATA"
chmod 0700 "$PGDATA"

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  if [[ -z ${POSTGRES_PASSWORD:-} && $auth != trust ]]; then
    log "error: the database is uninitialized and POSTGRES_PASSWORD is not set"
    log "  set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust, never outside a laptop)"
    exit 1
  fi
  log "initializing $PGDATA (superuser $user, database $db)"
  pwfile=$(mktemp -p /var/run/postgresql)
  printf '%s' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a word list
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host="$auth" \
    --encoding=UTF8 ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
  # A server on the socket only, to create the database; stopped before the real start.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /var/run/postgresql" -w -t 60 start >/dev/null
  if [[ $db != postgres ]]; then
    psql -v ON_ERROR_STOP=1 -h /var/run/postgresql -U "$user" -d postgres -q \
      -c "CREATE DATABASE \"$db\""
  fi
  pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
  log "initialized"
fi

exec "$@" -c listen_addresses='*' -k /var/run/postgresql
