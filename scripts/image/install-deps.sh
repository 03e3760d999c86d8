#!/usr/bin/env bash
# Installs the Debian packages the image checks need, only when one is missing.
# Needs root (apt-get); CI runs as root on a fresh Debian 12 machine.
set -euo pipefail

# catatonit: podman's --init (a Python PID 1 would otherwise ignore SIGTERM).
pkgs=(podman buildah runc containerd debootstrap catatonit)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "[image] Debian packages present: ${pkgs[*]}"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "[image] error: missing packages (${missing[*]}) and not root: install them with apt-get" >&2; exit 1; }
echo "[image] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
