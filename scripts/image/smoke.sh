#!/usr/bin/env bash
# The image's proof on this machine (`make image-smoke`):
#   1. Debian packages (podman, buildah, runc, containerd, debootstrap) if missing
#   2. the stand-in base image for python:3.11-slim if missing
#   3. build the Containerfile (podman, --pull=never, docker format), time it
#   4. image size and the size of the layers the project adds over the base
#      (fails above IMAGE_ADDED_MAX_MB, default 60)
#   5. tests/image/image_checks.py on the built image (no compiler, uid 1000)
#   6. under a throwaway PostgreSQL + Redis (gold_devtools.devstack):
#      scripts/image/smoke-run.sh runs the image under containerd and podman
#   7. prints every figure
# Needs root (apt, debootstrap, containerd) and the project's .venv.
set -euo pipefail
# shellcheck source=scripts/image/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

PY="${PY:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || die "$PY not found: run 'make venv' first"
[ "$(id -u)" -eq 0 ] || die "the image smoke test needs root (containerd, debootstrap)"
ADDED_MAX_MB="${IMAGE_ADDED_MAX_MB:-60}"

SMOKE_DIR="$STATE/image-smoke"
rm -rf "$SMOKE_DIR"
mkdir -p "$SMOKE_DIR"
FIGURES="$SMOKE_DIR/figures.txt"
export SMOKE_DIR FIGURES
figure() { printf '%-44s %s\n' "$1" "$2" >> "$FIGURES"; log "$1: $2"; }
total_start=$(now_ms)

"$IMAGE_DIR/install-deps.sh"
"$IMAGE_DIR/make-base.sh"

# --- build -------------------------------------------------------------------
revision="$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
version="$(sed -n 's/^version[[:space:]]*=[[:space:]]*//p' "$ROOT/setup.cfg" | head -n1)"
created="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
log "building $IMAGE (revision ${revision:0:12}, version ${version:-?})"
start=$(now_ms)
if ! podman build --pull=never --format docker \
        --build-arg VERSION="${version:-0.0.0+unknown}" \
        --build-arg REVISION="$revision" \
        --build-arg CREATED="$created" \
        -f "$ROOT/Containerfile" -t "$IMAGE" "$ROOT" > "$SMOKE_DIR/build.log" 2>&1; then
    tail -n 40 "$SMOKE_DIR/build.log" >&2
    die "podman build failed (full log: $SMOKE_DIR/build.log)"
fi
cached=$(grep -c -- '--> Using cache' "$SMOKE_DIR/build.log" || true)
# Old dangling images (earlier builds) would pile up under .state/; the last
# hour's are kept as the layer cache of the next build.
podman image prune --force --filter until=1h > /dev/null 2>&1 || true
figure "build time (podman build)" "$(elapsed "$start") s (${cached} steps from layer cache)"

# --- sizes -------------------------------------------------------------------
image_size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
base_size=$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")
base_layers=$(podman image inspect --format '{{len .RootFS.Layers}}' "$BASE_IMAGE")
# The image must sit on exactly the base's layers (else "added" means nothing).
podman image inspect --format '{{range .RootFS.Layers}}{{println .}}{{end}}' "$BASE_IMAGE" | grep . > "$SMOKE_DIR/base-layers"
podman image inspect --format '{{range .RootFS.Layers}}{{println .}}{{end}}' "$IMAGE" | sed -n "1,${base_layers}p" > "$SMOKE_DIR/image-first-layers"
cmp -s "$SMOKE_DIR/base-layers" "$SMOKE_DIR/image-first-layers" || die "$IMAGE is not built on $BASE_IMAGE"
added=$((image_size - base_size))
figure "image size (uncompressed)" "$(mib "$image_size") MiB"
figure "base python:3.11-slim stand-in" "$(mib "$base_size") MiB"
figure "layers added over the base (uncompressed)" "$(mib "$added") MiB (target < ${ADDED_MAX_MB} MB)"

start=$(now_ms)
podman save --quiet --format oci-archive -o "$SMOKE_DIR/image.oci.tar" "$IMAGE"
figure "podman save (oci-archive)" "$(elapsed "$start") s"
# Compressed size of the added layers = what a registry push/pull moves.
added_gz=$(python3 - "$SMOKE_DIR/image.oci.tar" "$base_layers" <<'PY'
import json, sys, tarfile
archive, skip = sys.argv[1], int(sys.argv[2])
with tarfile.open(archive) as tar:
    blob = lambda d: json.load(tar.extractfile("blobs/" + d.replace(":", "/")))
    index = json.load(tar.extractfile("index.json"))
    manifest = blob(index["manifests"][0]["digest"])
    print(sum(layer["size"] for layer in manifest["layers"][skip:]))
PY
)
figure "layers added over the base (gzip, as pushed)" "$(mib "$added_gz") MiB"
[ "$added" -lt $((ADDED_MAX_MB * 1000 * 1000)) ] \
    || die "the project's layers are $(mib "$added") MiB, over the ${ADDED_MAX_MB} MB target"

# --- static checks on the built image ----------------------------------------
log "tests/image/image_checks.py (runtime stage: no compiler, user 1000, labels)"
SMOKE_IMAGE="$IMAGE" "$PY" -m pytest -q -p no:cacheprovider "$ROOT/tests/image/image_checks.py"

# --- run it: containerd and podman against real PostgreSQL + Redis -----------
log "starting a throwaway PostgreSQL and Redis (gold_devtools.devstack)"
(cd "$ROOT" && "$PY" -m gold_devtools.devstack -- "$IMAGE_DIR/smoke-run.sh")

figure "image smoke total" "$(elapsed "$total_start") s"
echo
echo "== image smoke: figures =="
cat "$FIGURES"
echo "image smoke: passed"
