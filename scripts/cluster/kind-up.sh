#!/usr/bin/env bash
# The e2e job's cluster on a machine with Docker: kind, with the same images
# under the same local names as make cluster-up imports (official PostgreSQL
# and Redis images stand in for the locally built ones), and the same CRDs.
# Then `make e2e-scenarios` runs the scenarios against it.
# Usage: kind-up.sh   (needs docker, kind, go and kubectl on PATH, and make venv)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/cluster/lib.sh
. "$HERE/lib.sh"
CLUSTER="${KIND_CLUSTER:-gold-platform-e2e}"
for tool in docker kind go kubectl; do
    command -v "$tool" > /dev/null || die "$tool is needed on PATH"
done

kind create cluster --name "$CLUSTER" --wait 180s

version="$(sed -n 's/^version[[:space:]]*=[[:space:]]*//p' "$ROOT/setup.cfg" | head -n1)"
docker build -f "$ROOT/Containerfile" --build-arg VERSION="$version" -t "$APP_IMAGE_CURRENT" "$ROOT"
next="$(mktemp -d)"
trap 'rm -rf "$next"' EXIT
(cd "$ROOT" && cp -r Containerfile .containerignore setup.cfg pyproject.toml README.md requirements.lock src migrations "$next/")
"$ROOT/.venv/bin/python" "$HERE/next_migration.py" "$next/migrations"
docker build -f "$next/Containerfile" --build-arg VERSION="$version+e2e.next" -t "$APP_IMAGE_NEXT" "$next"
docker pull "docker.io/library/postgres:$KIND_POSTGRES_TAG"
docker tag "docker.io/library/postgres:$KIND_POSTGRES_TAG" "$POSTGRES_IMAGE"
docker pull "docker.io/library/redis:$KIND_REDIS_TAG"
docker tag "docker.io/library/redis:$KIND_REDIS_TAG" "$REDIS_IMAGE"
kind load docker-image --name "$CLUSTER" "$APP_IMAGE_CURRENT" "$APP_IMAGE_NEXT" "$POSTGRES_IMAGE" "$REDIS_IMAGE"

"$HERE/crds.sh" apply
log "kind cluster $CLUSTER ready; run: make e2e-scenarios"
