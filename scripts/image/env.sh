# shellcheck shell=bash
# Sourced by the scripts in scripts/image/. Points podman/buildah at the
# project's own configuration and storage (under .state/, gitignored) so that
# nothing in /etc/containers or /var/lib/containers is changed or relied on.
#
# Sets: ROOT, STATE, BASE_IMAGE, IMAGE, CONTAINERS_CONF,
#       CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${IMAGE_STATE_DIR:-$ROOT/.state}"
IMAGE_DIR="$ROOT/scripts/image"
# The stand-in for the official base image keeps the official name, so the
# Containerfile stays the one that builds on a machine with a registry.
BASE_IMAGE="docker.io/library/python:3.11-slim"
IMAGE="${SMOKE_IMAGE:-localhost/gold-platform:smoke}"

mkdir -p "$STATE/containers"
sed "s|@STATE@|$STATE|g" "$IMAGE_DIR/storage.conf.in" > "$STATE/containers/storage.conf"

export CONTAINERS_CONF="$IMAGE_DIR/containers.conf"
export CONTAINERS_STORAGE_CONF="$STATE/containers/storage.conf"
export CONTAINERS_REGISTRIES_CONF="$IMAGE_DIR/registries.conf"
# Keep the HEALTHCHECK in images that podman-compose / buildah build.
export BUILDAH_FORMAT=docker
SMOKE_IMAGE="$IMAGE"
export ROOT STATE IMAGE_DIR BASE_IMAGE IMAGE SMOKE_IMAGE

# now_ms: wall clock in milliseconds (for the figures the smoke test prints).
now_ms() { date +%s%3N; }
# elapsed START_MS: seconds since START_MS with one decimal.
elapsed() { local d=$(( $(now_ms) - $1 )); printf '%d.%01d' $((d / 1000)) $(((d % 1000) / 100)); }
# mib BYTES: bytes as MiB with one decimal.
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
log() { printf '[image] %s\n' "$*"; }
die() { printf '[image] error: %s\n' "$*" >&2; exit 1; }
# build_image TAG CONTEXT [ARGS...]: podman build with the project's settings
# (local base, no pull, Docker format so HEALTHCHECK stays); log in $STATE.
build_image() {
    local tag="$1" context="$2" start=$SECONDS; shift 2
    local build_log="$STATE/image-build.log"
    if ! podman build --pull=never --format docker "$@" -t "$tag" "$context" > "$build_log" 2>&1; then
        tail -n 30 "$build_log" >&2
        die "building $tag failed (log: $build_log)"
    fi
    log "image $tag built in $((SECONDS - start)) s"
}
