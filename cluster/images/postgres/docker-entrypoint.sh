#!/bin/bash
# First start on an empty PGDATA: initdb with POSTGRES_USER as the superuser
# and POSTGRES_PASSWORD (scram-sha-256 over TCP), then create POSTGRES_DB in
# single-user mode. Every start: exec the server (the official image's
# contract, reduced to what the manifests use).
set -euo pipefail
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi
# fsGroup makes the kubelet add group permissions to the volume at every
# mount; PostgreSQL refuses a data directory that is not 0700 or 0750.
if [ "$1" = postgres ] && [ -d "$PGDATA" ]; then chmod 0700 "$PGDATA"; fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    mkdir -p "$PGDATA"
    chmod 0700 "$PGDATA"
    initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 -D "$PGDATA"
    printf 'host all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
    printf "listen_addresses = '*'\nunix_socket_directories = '/var/run/postgresql'\n" >> "$PGDATA/postgresql.conf"
    if [ "$db" != postgres ]; then
        printf 'CREATE DATABASE "%s";\n' "$db" | postgres --single -D "$PGDATA" -c listen_addresses='' postgres > /dev/null
    fi
    echo "docker-entrypoint: initialised $PGDATA (user $user, database $db)"
fi
exec "$@"
