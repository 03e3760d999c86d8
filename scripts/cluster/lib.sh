# shellcheck shell=bash
# Shared by the scripts in scripts/cluster/: paths, pinned versions, logging.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/cluster/versions.env disable=SC1091
. "$ROOT/scripts/cluster/versions.env"
GOLD_CACHE_DIR="${GOLD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gold-platform}"
export GOLD_CACHE_DIR

log() { printf '[cluster] %s\n' "$*"; }
die() { printf '[cluster] error: %s\n' "$*" >&2; exit 1; }

# component_dir NAME VERSION: where a built component lives in the cache.
component_dir() { printf '%s/cluster/%s-%s' "$GOLD_CACHE_DIR" "$1" "$2"; }

# pause_version: the pause binary is keyed by a hash of its source.
pause_version() { cat "$ROOT"/cluster/pause/go.mod "$ROOT"/cluster/pause/main.go | sha256sum | cut -c1-12; }

# start NAME CMD...: a background process in its own process group, with its
# pid and log in the cluster's state folder (down.sh stops it by that pid).
start() {
    local name="$1"; shift
    setsid "$@" > "$CLUSTER_STATE/logs/$name.log" 2>&1 < /dev/null &
    echo $! > "$CLUSTER_STATE/pids/$name"
}

# wait_for WHAT SECONDS CMD...: polls CMD once a second.
wait_for() {
    local what="$1" limit="$2" t0=$SECONDS; shift 2
    until "$@" > /dev/null 2>&1; do
        [ $((SECONDS - t0)) -lt "$limit" ] || die "$what not ready after ${limit} s${CLUSTER_STATE:+ (logs: $CLUSTER_STATE/logs)}"
        sleep 1
    done
    log "$what ready ($((SECONDS - t0)) s)"
}
