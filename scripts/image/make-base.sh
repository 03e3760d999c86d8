#!/usr/bin/env bash
# Makes the local stand-in for the base image python:3.11-slim.
#
# No container registry is reachable from the project's machines, so the
# official image cannot be pulled. This builds a minimal Debian 12 root
# filesystem with Debian's Python 3.11 (debootstrap from the Debian mirror the
# machine already uses), and imports it under the official name
# docker.io/library/python:3.11-slim, so that the Containerfile is unchanged
# and is built with --pull=never.
#
# Differences from the official image: Python is Debian's (/usr/bin/python3,
# 3.11.2) rather than a /usr/local build; the Containerfile therefore never
# hard-codes an interpreter path.
#
# Idempotent: does nothing when the image exists; re-imports the cached root
# filesystem tar (.cache/image/) when only the image is gone.
set -euo pipefail
# shellcheck source=scripts/image/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# This machine reaches PyPI through a TLS-inspecting proxy whose CA is in
# /usr/local/share/ca-certificates; pip inside builds must trust it too. The
# CA is added as a thin layer over the pristine root filesystem (never into the
# cached tar), and the stand-in is re-made when the machine's CAs change.
ca_files=()
while IFS= read -r -d '' f; do ca_files+=("$f"); done \
    < <(find /usr/local/share/ca-certificates -maxdepth 2 -name '*.crt' -type f -print0 2>/dev/null | sort -z)
if [ "${#ca_files[@]}" -gt 0 ]; then
    ca_id="$(cat "${ca_files[@]}" | sha256sum | cut -c1-12)"
else
    ca_id="none"
fi
STANDIN_TAG="localhost/python-standin:ca-$ca_id"
ROOTFS_IMAGE="localhost/python-standin:rootfs"

if podman image exists "$BASE_IMAGE" && podman image exists "$STANDIN_TAG" \
    && [ "$(podman image inspect --format '{{.Id}}' "$BASE_IMAGE")" = "$(podman image inspect --format '{{.Id}}' "$STANDIN_TAG")" ]; then
    log "base image $BASE_IMAGE present ($(mib "$(podman image inspect --format '{{.Size}}' "$BASE_IMAGE")") MiB, host CAs $ca_id)"
    exit 0
fi

CACHE="${IMAGE_CACHE_DIR:-$ROOT/.cache/image}"
TAR="$CACHE/python-3.11-slim-standin.tar"
mkdir -p "$CACHE"
start=$(now_ms)

if [ ! -s "$TAR" ]; then
    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root; run as root or provide $TAR"
    command -v debootstrap >/dev/null || die "debootstrap missing: run scripts/image/install-deps.sh"
    # The mirror this machine's apt already uses (deb822 or one-line format).
    mirror="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*debian\)[[:space:]]*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)"
    if [ -z "$mirror" ]; then
        mirror="$(awk '$1 == "deb" && $2 ~ /debian\/?$/ { print $2; exit }' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)"
    fi
    mirror="${mirror:-http://deb.debian.org/debian}"
    rootfs="$STATE/base-rootfs"
    rm -rf "$rootfs"
    log "debootstrap bookworm from $mirror (about a minute)"
    debootstrap --variant=minbase \
        --include=python3-minimal,python3,python3-venv,python-is-python3,ca-certificates \
        bookworm "$rootfs" "$mirror" > "$STATE/debootstrap.log" 2>&1 \
        || { tail -n 20 "$STATE/debootstrap.log" >&2; die "debootstrap failed (log: $STATE/debootstrap.log)"; }
    # Trim what a slim image does not carry.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/doc/* \
        "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log \
        "$rootfs"/debootstrap
    tar --numeric-owner -C "$rootfs" -cf "$TAR.partial" .
    mv "$TAR.partial" "$TAR"
    rm -rf "$rootfs"
fi

if ! podman image exists "$ROOTFS_IMAGE"; then
    podman import --quiet \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["python3"]' \
        "$TAR" "$ROOTFS_IMAGE" >/dev/null
fi

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/ca"
if [ "${#ca_files[@]}" -gt 0 ]; then cp "${ca_files[@]}" "$ctx/ca/"; fi
cat > "$ctx/Containerfile" <<'CF'
ARG ROOTFS_IMAGE
FROM ${ROOTFS_IMAGE}
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null 2>&1
CF
podman build --quiet --pull=never --format docker --build-arg ROOTFS_IMAGE="$ROOTFS_IMAGE" \
    -t "$BASE_IMAGE" -t "$STANDIN_TAG" "$ctx" >/dev/null
log "base image $BASE_IMAGE made in $(elapsed "$start") s ($(podman run --rm --pull=never "$BASE_IMAGE" python3 --version), host CAs $ca_id)"
