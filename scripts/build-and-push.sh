#!/usr/bin/env bash
# Builds the production image for linux/amd64 and linux/arm64 and pushes it.
#
#   REGISTRY=ghcr.io/OWNER scripts/build-and-push.sh
#
# Tags: REGISTRY/IMAGE_NAME:<git sha, 12 hex> always, and :<version> when HEAD
# carries a tag vX.Y.Z (which must equal setup.cfg's version). OCI labels
# (source, revision, version, created) come from git, so two builds of one
# commit carry the same labels.
#
# Refuses, with one line on stderr and exit 1: no REGISTRY, a dirty work tree
# (changed or untracked files: they would end up in the image), a version tag
# that disagrees with setup.cfg, no usable builder.
#
# Settings (environment):
#   REGISTRY    required, e.g. ghcr.io/OWNER (no trailing slash)
#   IMAGE_NAME  default gold-platform
#   PLATFORMS   default linux/amd64,linux/arm64
#   BUILDER     docker (docker buildx) | podman; default: docker when
#               `docker buildx` works, else podman
#   SOURCE_URL  org.opencontainers.image.source; default: the origin remote
#   DRY_RUN=1   print the commands instead of running them (needs no
#               builder installed; nothing is built or pushed)
# Log in to the registry first (docker login / podman login).
#
# Usage: scripts/build-and-push.sh [-h|--help]
set -euo pipefail

die() { echo "build-and-push: $*" >&2; exit 1; }
run() {
    if $dry_run; then
        printf '+'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}

case "${1:-}" in
    "") ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) echo "build-and-push: unexpected argument '$1' (settings come from the environment; see --help)" >&2; exit 2 ;;
esac
dry_run=false
[ "${DRY_RUN:-0}" = 1 ] && dry_run=true

[ -n "${REGISTRY:-}" ] || die "REGISTRY is not set (e.g. REGISTRY=ghcr.io/OWNER); refusing to build"
REGISTRY="${REGISTRY%/}"
case "$REGISTRY" in
    *[[:space:]]* | -* | *//*) die "REGISTRY '$REGISTRY' is not a registry/namespace like ghcr.io/OWNER" ;;
esac
IMAGE_NAME="${IMAGE_NAME:-gold-platform}"
PLATFORMS="${PLATFORMS:-linux/amd64,linux/arm64}"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(git rev-parse --show-toplevel 2>/dev/null)" || die "$(pwd) is not a git work tree"
cd "$root"
[ -f Containerfile ] || die "no Containerfile in $root"
if [ -n "$(git status --porcelain --untracked-files=normal)" ]; then
    die "the work tree is dirty (uncommitted or untracked files); commit or remove them first"
fi

revision="$(git rev-parse HEAD)"
sha="$(git rev-parse --short=12 HEAD)"
created="$(TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd)"
cfg_version="$(sed -n 's/^version[[:space:]]*=[[:space:]]*//p' setup.cfg 2>/dev/null | head -n1)"
tag="$(git describe --exact-match --tags --match 'v[0-9]*' HEAD 2>/dev/null || true)"
version=""
if [ -n "$tag" ]; then
    version="${tag#v}"
    [ "$version" = "$cfg_version" ] || die "tag $tag does not match setup.cfg version ${cfg_version:-<none>}"
fi
source_url="${SOURCE_URL:-$(git remote get-url origin 2>/dev/null || echo unknown)}"

ref="$REGISTRY/$IMAGE_NAME"
tags=("$ref:$sha")
if [ -n "$version" ]; then tags+=("$ref:$version"); fi
build_args=(
    --build-arg "VERSION=${version:-${cfg_version:-0.0.0}+g$sha}"
    --build-arg "REVISION=$revision"
    --build-arg "CREATED=$created"
    --build-arg "SOURCE=$source_url"
)

builder="${BUILDER:-}"
if [ -z "$builder" ]; then
    if command -v docker >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; then
        builder=docker
    elif command -v podman >/dev/null 2>&1 || $dry_run; then
        builder=podman
    else
        die "neither docker buildx nor podman is installed"
    fi
fi

echo "build-and-push: ${tags[*]} for $PLATFORMS with $builder (revision $sha)"
case "$builder" in
    docker)
        tag_args=()
        for t in "${tags[@]}"; do tag_args+=(--tag "$t"); done
        run docker buildx build --file Containerfile --platform "$PLATFORMS" \
            "${build_args[@]}" "${tag_args[@]}" --push .
        ;;
    podman)
        # Foreign platforms need qemu-user-static (binfmt_misc) on this host.
        host_arch="$(uname -m)"
        for p in ${PLATFORMS//,/ }; do
            case "$p" in
                linux/amd64) want=x86_64 ;;
                linux/arm64) want=aarch64 ;;
                *) want="" ;;
            esac
            if [ -n "$want" ] && [ "$want" != "$host_arch" ] \
                && [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$want" ] && ! $dry_run; then
                die "building $p on $host_arch needs qemu-user-static (binfmt_misc qemu-$want)"
            fi
        done
        list="$ref:$sha"
        if ! $dry_run && podman manifest exists "$list" 2> /dev/null; then podman manifest rm "$list"; fi
        run podman build --file Containerfile --format docker --platform "$PLATFORMS" \
            "${build_args[@]}" --manifest "$list" .
        for t in "${tags[@]}"; do
            run podman manifest push --all --format v2s2 "$list" "docker://$t"
        done
        ;;
    *)
        die "BUILDER must be docker or podman, not '$builder'"
        ;;
esac
if $dry_run; then
    echo "build-and-push: dry run: nothing built or pushed"
else
    echo "build-and-push: pushed ${tags[*]}"
fi
