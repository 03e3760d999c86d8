#!/bin/sh
# One backup: pg_dump (custom format) of $PGDATABASE into $BACKUP_DIR as
# gold-<UTC time>.dump with a .sha256 beside it, then keep the newest
# $BACKUP_KEEP. The dump is written under a temporary name and renamed only
# once its table of contents reads back, so a listed backup is a whole one.
# Connection settings come from the libpq environment (PGHOST, PGUSER, ...).
set -eu
: "${BACKUP_DIR:?BACKUP_DIR is not set}" "${BACKUP_KEEP:?BACKUP_KEEP is not set}"
case "$BACKUP_KEEP" in '' | *[!0-9]* | 0) echo "backup: BACKUP_KEEP must be a positive integer, not '$BACKUP_KEEP'" >&2; exit 2 ;; esac

started=$(date +%s)
name="gold-$(date -u +%Y%m%dT%H%M%SZ).dump"
partial="$BACKUP_DIR/.$name.partial"
trap 'rm -f "$partial"' EXIT

pg_dump --format=custom --compress=6 --no-password --file="$partial"
pg_restore --list "$partial" > /dev/null
digest=$(sha256sum "$partial" | cut -d' ' -f1)
printf '%s  %s\n' "$digest" "$name" > "$BACKUP_DIR/$name.sha256"
mv "$partial" "$BACKUP_DIR/$name"
printf '%s\n' "$name" > "$BACKUP_DIR/.LATEST" && mv "$BACKUP_DIR/.LATEST" "$BACKUP_DIR/LATEST"

# Names sort by time: drop all but the newest $BACKUP_KEEP.
find "$BACKUP_DIR" -maxdepth 1 -name 'gold-*.dump' | sort -r | tail -n "+$((BACKUP_KEEP + 1))" |
    while read -r old; do rm -f "$old" "$old.sha256"; done

bytes=$(wc -c < "$BACKUP_DIR/$name")
kept=$(find "$BACKUP_DIR" -maxdepth 1 -name 'gold-*.dump' | wc -l)
printf '{"event": "backup_done", "backup": "%s", "bytes": %s, "seconds": %s, "sha256": "%s", "kept": %s}\n' \
    "$name" "$bytes" "$(($(date +%s) - started))" "$digest" "$kept"
