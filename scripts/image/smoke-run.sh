#!/usr/bin/env bash
# Runs the built image under containerd (ctr) and podman against the
# PostgreSQL/Redis in DATABASE_URL/REDIS_URL. Called by smoke.sh through
# `python -m gold_devtools.devstack -- scripts/image/smoke-run.sh`.
#
# containerd: a private daemon (own root, state, socket; no CRI plugin),
#   started here and stopped by PID on exit. The service runs as the image's
#   uid 1000, read-only root filesystem, tmpfs /tmp, every capability
#   dropped, no-new-privileges, default seccomp profile, host network.
# podman: the same image as an arbitrary uid (12345:0), read-only, tmpfs
#   /tmp, --cap-drop ALL, to check the HEALTHCHECK with `podman healthcheck run`.
set -euo pipefail
# shellcheck source=scripts/image/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

[ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL is not set: run through smoke.sh (gold_devtools.devstack)"
: "${SMOKE_DIR:?run through smoke.sh}" "${FIGURES:?run through smoke.sh}"
[ -s "$SMOKE_DIR/image.oci.tar" ] || die "$SMOKE_DIR/image.oci.tar missing: run through smoke.sh"
figure() { printf '%-44s %s\n' "$1" "$2" >> "$FIGURES"; log "$1: $2"; }
probe() { python3 "$IMAGE_DIR/probe.py" "$@"; }

GRACE=20
PORT="$(probe free-port)"
BASE_URL="http://127.0.0.1:$PORT"
METRICS_PORT="$(probe free-port)"
[ "$METRICS_PORT" != "$PORT" ] || METRICS_PORT="$(probe free-port)"
METRICS_URL="http://127.0.0.1:$METRICS_PORT/metrics"
NS="gold-smoke"
RUN_ID="$$"
SVC="svc-$RUN_ID"
MIG="migrate-$RUN_ID"
PODMAN_NAME="gold-smoke-$RUN_ID"

# A unix socket path must stay under 108 bytes; use a short folder if the
# checkout lives deep.
CTRD_DIR="$STATE/containerd"
if [ "${#CTRD_DIR}" -gt 70 ]; then CTRD_DIR="$(mktemp -d /tmp/gp-ctrd.XXXXXX)"; fi
mkdir -p "$CTRD_DIR"
SOCK="$CTRD_DIR/containerd.sock"
sed "s|@STATE@/containerd|$CTRD_DIR|g" "$IMAGE_DIR/containerd.toml.in" > "$CTRD_DIR/config.toml"
ctr_() { ctr --address "$SOCK" --namespace "$NS" "$@"; }

# Environment for the service (secrets stay out of argv; file mode 600).
ENV_FILE="$SMOKE_DIR/app.env"
OPERATOR_KEY="smoke-operator-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
(
    umask 077
    {
        echo "DATABASE_URL=$DATABASE_URL"
        if [ -n "${REDIS_URL:-}" ]; then echo "REDIS_URL=$REDIS_URL"; fi
        echo "PORT=$PORT"
        # Host networking: the metrics listener stays on loopback here.
        echo "METRICS_HOST=127.0.0.1"
        echo "METRICS_PORT=$METRICS_PORT"
        echo "WEB_CONCURRENCY=2"
        echo "GRACEFUL_TIMEOUT_SECONDS=$GRACE"
        echo "LOG_FORMAT=json"
        echo "OPERATOR_API_KEY=$OPERATOR_KEY"
    } > "$ENV_FILE"
)

# Every capability, by name: ctr 1.6 has no "ALL".
CAP_DROP=()
for cap in CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP \
    LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER \
    SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE \
    SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP \
    MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF \
    CHECKPOINT_RESTORE; do
    CAP_DROP+=(--cap-drop "CAP_$cap")
done
HARDEN=(--net-host --read-only --seccomp "${CAP_DROP[@]}" --env-file "$ENV_FILE")
TMPFS=(--mount "type=tmpfs,src=tmpfs,dst=/tmp,options=nosuid:nodev:noexec:mode=1777:size=64m")

CTRD_PID=""
CTR_RUN_PID=""
PODMAN_STARTED=""
cleanup() {
    local rc=$?
    set +e
    if [ -n "$PODMAN_STARTED" ]; then podman rm -f -t 0 "$PODMAN_NAME" >/dev/null 2>&1; fi
    if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
        for c in "$SVC" "$MIG"; do
            if ctr_ tasks ls -q 2>/dev/null | grep -qx "$c"; then
                ctr_ tasks kill -s SIGKILL "$c" >/dev/null 2>&1
                sleep 0.5
                ctr_ tasks delete -f "$c" >/dev/null 2>&1
            fi
            ctr_ containers rm "$c" >/dev/null 2>&1
        done
        ctr_ images rm "$IMAGE" >/dev/null 2>&1
    fi
    if [ -n "$CTR_RUN_PID" ] && kill -0 "$CTR_RUN_PID" 2>/dev/null; then
        kill "$CTR_RUN_PID" 2>/dev/null; wait "$CTR_RUN_PID" 2>/dev/null
    fi
    if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
        kill -TERM "$CTRD_PID"
        for _ in $(seq 50); do kill -0 "$CTRD_PID" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$CTRD_PID" 2>/dev/null && kill -KILL "$CTRD_PID"
        wait "$CTRD_PID" 2>/dev/null
    fi
    if [ "$rc" -ne 0 ]; then
        log "FAILED (exit $rc); logs in $SMOKE_DIR (service: $SMOKE_DIR/containerd-service.log)"
        for f in "$SMOKE_DIR/containerd-service.log" "$SMOKE_DIR/podman-service.log"; do
            if [ -s "$f" ]; then echo "--- last lines of $f"; tail -n 15 "$f"; fi
        done
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- containerd ----------------------------------------------------------------
log "starting a private containerd ($CTRD_DIR, CRI plugin disabled)"
containerd --config "$CTRD_DIR/config.toml" > "$SMOKE_DIR/containerd.log" 2>&1 &
CTRD_PID=$!
for _ in $(seq 100); do
    ctr --address "$SOCK" version >/dev/null 2>&1 && break
    kill -0 "$CTRD_PID" 2>/dev/null || { tail -n 20 "$SMOKE_DIR/containerd.log" >&2; die "containerd exited"; }
    sleep 0.1
done
ctr --address "$SOCK" version >/dev/null 2>&1 || die "containerd did not answer on $SOCK"
log "containerd $(ctr --address "$SOCK" version | awk '/Server:/ {s=1} s && /Version:/ {print $2; exit}') up (pid $CTRD_PID)"

start=$(now_ms)
ctr_ images import "$SMOKE_DIR/image.oci.tar" > "$SMOKE_DIR/ctr-import.log" 2>&1 \
    || { cat "$SMOKE_DIR/ctr-import.log" >&2; die "ctr images import failed"; }
ctr_ images ls -q | grep -qx "$IMAGE" || die "ctr did not register $IMAGE (see $SMOKE_DIR/ctr-import.log)"
figure "ctr images import (unpack included)" "$(elapsed "$start") s"

# --- migrations from the image -------------------------------------------------
log "gold-platform migrate (containerd, read-only root)"
start=$(now_ms)
ctr_ run --rm "${HARDEN[@]}" "$IMAGE" "$MIG" gold-platform migrate > "$SMOKE_DIR/migrate.log" 2>&1 \
    || { tail -n 20 "$SMOKE_DIR/migrate.log" >&2; die "gold-platform migrate failed under containerd"; }
grep -E '^(applied|rolled back):' "$SMOKE_DIR/migrate.log" | sed 's/^/[image]   /'
figure "migrate under containerd" "$(elapsed "$start") s"

# --- the service under containerd -------------------------------------------------
log "gold-platform serve under containerd on 127.0.0.1:$PORT"
start=$(now_ms)
ctr_ run "${HARDEN[@]}" "${TMPFS[@]}" "$IMAGE" "$SVC" > "$SMOKE_DIR/containerd-service.log" 2>&1 &
CTR_RUN_PID=$!
probe wait "$BASE_URL/health/ready" --timeout 60 > /dev/null || die "not ready under containerd"
figure "time to /health/ready (containerd)" "$(elapsed "$start") s from ctr run"
probe get "$BASE_URL/health/ready" --show 300 | sed 's/^/[image]   /'

# Who and what the service is inside: uid 1000, no capabilities, read-only root.
# shellcheck disable=SC2016  # expanded by the container's shell
ctr_ tasks exec --exec-id "id-$RUN_ID" "$SVC" sh -c '
    printf "uid=%s gid=%s\n" "$(id -u)" "$(id -g)"
    grep -E "^Cap(Eff|Bnd|Prm):" /proc/1/status
    grep -E "^NoNewPrivs:" /proc/1/status
    if touch /opt/venv/probe 2>/dev/null; then echo "rootfs=writable"; else echo "rootfs=read-only"; fi
    if touch /tmp/probe 2>/dev/null; then echo "tmp=writable"; fi
' > "$SMOKE_DIR/identity.txt" 2>&1 || true
sed 's/^/[image]   /' "$SMOKE_DIR/identity.txt"
grep -qx 'uid=1000 gid=1000' "$SMOKE_DIR/identity.txt" || die "service is not uid/gid 1000 under containerd"
[ "$(grep -c -E '^Cap(Eff|Bnd|Prm):[[:space:]]+0+$' "$SMOKE_DIR/identity.txt")" -eq 3 ] || die "capabilities not all dropped"
grep -qx 'rootfs=read-only' "$SMOKE_DIR/identity.txt" || die "root filesystem is writable"
grep -qx 'tmp=writable' "$SMOKE_DIR/identity.txt" || die "/tmp is not writable"
figure "containerd: user / root fs / capabilities" "uid 1000, read-only, none"

# Real API calls through PostgreSQL (and Redis): the operator publishes a
# rate, a partner created with the image's own CLI reads it back. Keys travel
# in environment variables, never in argv. Then the OpenAPI document and the
# metrics (multiprocess files in the tmpfs /tmp) on the metrics port.
log "API: POST /v1/admin/rates (operator), create-partner (CLI), GET /v1/rates/current (partner)"
API_OPERATOR_KEY="$OPERATOR_KEY" probe request POST "$BASE_URL/v1/admin/rates" \
    --bearer-env API_OPERATOR_KEY --json '{"buy_price": "6543.21", "sell_price": "6400.00"}' \
    --expect 201 | sed 's/^/[image]   publish rate: /'
partner_out="$(ctr_ tasks exec --exec-id "partner-$RUN_ID" "$SVC" gold-platform create-partner "smoke-$RUN_ID" 2>&1)" \
    || die "gold-platform create-partner failed: $partner_out"
partner_key="$(sed -n 's/^api key (shown once, store it now): //p' <<< "$partner_out")"
[ -n "$partner_key" ] || die "create-partner printed no key"
API_PARTNER_KEY="$partner_key" probe request GET "$BASE_URL/v1/rates/current" \
    --bearer-env API_PARTNER_KEY --expect 200 --show 400 > "$SMOKE_DIR/rate.txt" \
    || { cat "$SMOKE_DIR/rate.txt"; die "GET /v1/rates/current failed"; }
sed 's/^/[image]   rates\/current: /' "$SMOKE_DIR/rate.txt"
grep -q '"6543.21"' "$SMOKE_DIR/rate.txt" || die "GET /v1/rates/current did not return the published rate"
probe request GET "$BASE_URL/v1/rates/current" --expect 401 > /dev/null \
    || die "GET /v1/rates/current without a key was not 401"
figure "API under containerd" "rate published (201), read by a new partner (200), no key 401"
probe get "$BASE_URL/v1/openapi.json" | sed 's/^/[image]   openapi: /'
probe get "$METRICS_URL" | sed 's/^/[image]   metrics: /'
probe get "$BASE_URL/metrics" --expect 404 > /dev/null || die "the API port serves /metrics"
figure "metrics" "on their own port ($METRICS_PORT); 404 on the API port"

# The image's HEALTHCHECK command, run inside the container as containerd
# would for an exec probe (containerd itself ignores HEALTHCHECK).
ctr_ tasks exec --exec-id "hc-$RUN_ID" "$SVC" gold-platform healthcheck \
    || die "HEALTHCHECK command failed under containerd"
if ctr_ tasks exec --exec-id "hcbad-$RUN_ID" "$SVC" gold-platform healthcheck --url "http://127.0.0.1:1/health" > /dev/null 2>&1; then
    die "the HEALTHCHECK command passed against a closed port"
fi
figure "HEALTHCHECK command (containerd exec)" "exit 0 (and non-zero against a closed port)"

# SIGTERM: gunicorn (PID 1) must drain and exit 0 within the grace period.
log "SIGTERM to the containerd task"
start=$(now_ms)
ctr_ tasks kill -s SIGTERM "$SVC"
set +e
timeout $((GRACE + 5)) tail --pid="$CTR_RUN_PID" -f /dev/null
wait "$CTR_RUN_PID"; svc_rc=$?
set -e
CTR_RUN_PID=""
stop_s=$(elapsed "$start")
[ "$svc_rc" -eq 0 ] || die "service exited with $svc_rc after SIGTERM (containerd)"
awk -v s="$stop_s" -v g="$GRACE" 'BEGIN { exit !(s + 0 < g) }' || die "SIGTERM exit took ${stop_s}s, grace is ${GRACE}s"
grep -q 'Shutting down: Master' "$SMOKE_DIR/containerd-service.log" || die "no orderly gunicorn shutdown in the log"
ctr_ containers rm "$SVC"
figure "SIGTERM to exit (containerd)" "${stop_s} s, exit code 0 (grace ${GRACE} s)"

# --- the same image under podman, as an arbitrary uid ---------------------------
log "podman: arbitrary uid 12345:0, read-only root, tmpfs /tmp, --cap-drop ALL"
start=$(now_ms)
PODMAN_STARTED=1
podman run -d --name "$PODMAN_NAME" --pull=never --init --network host \
    --user 12345:0 --read-only --read-only-tmpfs=false \
    --tmpfs /tmp:rw,nosuid,nodev,noexec,mode=1777,size=64m \
    --cap-drop ALL --security-opt no-new-privileges \
    --env-file "$ENV_FILE" "$IMAGE" > /dev/null 2> "$SMOKE_DIR/podman-run.err" \
    || { cat "$SMOKE_DIR/podman-run.err" >&2; die "podman run failed"; }
probe wait "$BASE_URL/health/ready" --timeout 60 > /dev/null || die "not ready under podman"
figure "time to /health/ready (podman, uid 12345)" "$(elapsed "$start") s from podman run"
[ "$(podman exec "$PODMAN_NAME" id -u)" = "12345" ] || die "podman container is not uid 12345"
# `podman healthcheck run` runs the image's own HEALTHCHECK; the systemd timer
# warning (no systemd here) does not matter.
hc_out="$(podman healthcheck run "$PODMAN_NAME" 2>&1)" || die "podman healthcheck run: $hc_out"
figure "podman healthcheck run" "${hc_out:-healthy}"
start=$(now_ms)
podman stop -t "$GRACE" "$PODMAN_NAME" > /dev/null 2>> "$SMOKE_DIR/podman-run.err"
stop_s=$(elapsed "$start")
podman logs "$PODMAN_NAME" > "$SMOKE_DIR/podman-service.log" 2>&1 || true
prc="$(podman inspect --format '{{.State.ExitCode}}' "$PODMAN_NAME")"
[ "$prc" = "0" ] || die "podman: service exited with $prc after SIGTERM"
awk -v s="$stop_s" -v g="$GRACE" 'BEGIN { exit !(s + 0 < g) }' || die "podman stop took ${stop_s}s, grace is ${GRACE}s"
figure "SIGTERM to exit (podman stop)" "${stop_s} s, exit code 0"
podman rm "$PODMAN_NAME" > /dev/null 2>> "$SMOKE_DIR/podman-run.err"
PODMAN_STARTED=""
log "run checks passed"
