#!/bin/sh
# Restores one backup of $BACKUP_DIR (the name given, else the newest) into
# $PGDATABASE, replacing what is there, in one transaction: it either fully
# succeeds or leaves the database as it was. Stop the backend first
# (scripts/postgres-restore.sh does). Without a name and with no backup at
# all, lists nothing and fails.
set -eu
: "${BACKUP_DIR:?BACKUP_DIR is not set}"
available() { find "$BACKUP_DIR" -maxdepth 1 -name 'gold-*.dump' -printf '%f\n' | sort -r; }

name=${1:-}
if [ -z "$name" ]; then
    [ -f "$BACKUP_DIR/LATEST" ] || { echo "restore: no backup in $BACKUP_DIR yet" >&2; exit 2; }
    name=$(cat "$BACKUP_DIR/LATEST")
fi
case "$name" in gold-*.dump) ;; *) echo "restore: '$name' is not a backup name (gold-<time>.dump)" >&2; exit 2 ;; esac
if [ ! -f "$BACKUP_DIR/$name" ]; then
    echo "restore: no backup $name; the newest are: $(available | head -n 5 | tr '\n' ' ')" >&2
    exit 2
fi

started=$(date +%s)
(cd "$BACKUP_DIR" && sha256sum --check --quiet "$name.sha256") ||
    { echo "restore: $name does not match its checksum; refusing to restore it" >&2; exit 1; }
pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error \
    --no-password --dbname="$PGDATABASE" "$BACKUP_DIR/$name"
psql --no-password --quiet --command=ANALYZE
printf '{"event": "restore_done", "backup": "%s", "seconds": %s}\n' "$name" "$(($(date +%s) - started))"
