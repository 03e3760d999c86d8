#!/usr/bin/env bash
# Stops the local cluster of up.sh and removes what it made: its processes
# (by the pids it recorded), pod containers and their mounts, the bridge,
# iptables chains, cgroups, sockets, sysctls (restored), and its state.
# Safe to run twice, or after a failed up.sh.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/cluster/lib.sh
. "$HERE/lib.sh"
# shellcheck source=scripts/cluster/cluster.env disable=SC1091
. "$HERE/cluster.env"

[ -d "$CLUSTER_STATE" ] || { log "no cluster state in $CLUSTER_STATE: nothing to stop"; exit 0; }
[ "$(id -u)" -eq 0 ] || die "stopping the local cluster needs root"

# stop NAME [SECONDS]: SIGTERM the recorded process group, SIGKILL after SECONDS.
stop() {
    local name="$1" limit="${2:-20}" pid
    [ -f "$CLUSTER_STATE/pids/$name" ] || return 0
    pid="$(cat "$CLUSTER_STATE/pids/$name")"
    if kill -0 "$pid" 2> /dev/null; then
        kill -TERM -- "-$pid" 2> /dev/null || kill -TERM "$pid" 2> /dev/null || true
        for _ in $(seq "$((limit * 10))"); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2> /dev/null || true
    fi
    rm -f "$CLUSTER_STATE/pids/$name"
}

# Order matters: nothing may restart pods while they are removed, and the API
# server must go before etcd (an apiserver without etcd hangs on shutdown).
for name in argocd-server argocd-application-controller argocd-repo-server argocd-redis \
    cert-manager traefik registry-forward apiserver-for-pods \
    kube-proxy kubelet kube-scheduler kube-controller-manager coredns; do
    stop "$name"
done

SOCK="$CLUSTER_STATE/containerd/containerd.sock"
if [ -S "$SOCK" ] && ctr --address "$SOCK" version > /dev/null 2>&1; then
    for task in $(ctr --address "$SOCK" -n k8s.io tasks list -q 2> /dev/null); do
        ctr --address "$SOCK" -n k8s.io tasks kill -s SIGKILL "$task" > /dev/null 2>&1 || true
    done
    sleep 1
    for task in $(ctr --address "$SOCK" -n k8s.io tasks list -q 2> /dev/null); do
        ctr --address "$SOCK" -n k8s.io tasks delete --force "$task" > /dev/null 2>&1 || true
    done
    for c in $(ctr --address "$SOCK" -n k8s.io containers list -q 2> /dev/null); do
        ctr --address "$SOCK" -n k8s.io containers delete "$c" > /dev/null 2>&1 || true
    done
fi
stop containerd 30
# Shims exit with their tasks; any left are ours (they live in our state).
pkill -KILL -f "containerd-shim-runc-v2 -namespace k8s.io -id .* -address $SOCK" 2> /dev/null || true
stop kube-apiserver 30
stop etcd

# Mounts under the state folder (pod volumes, network namespaces, rootfs).
{ grep -F " $CLUSTER_STATE/" /proc/self/mounts || true; } | awk '{print $2}' | sort -r | while read -r mnt; do
    umount -l "$(printf '%b' "$mnt")" 2> /dev/null || true
done
# (Network namespaces live under containerd's state dir, so they went too.)
if grep -qF " $CLUSTER_STATE/" /proc/self/mounts; then
    die "mounts remain under $CLUSTER_STATE (see /proc/self/mounts); not deleting it"
fi

# remove_kube_chains: the KUBE-* chains the kubelet and kube-proxy made, and
# the rules that jump to them, in every table of iptables and ip6tables.
remove_kube_chains() {
    local ipt table rule chain
    for ipt in iptables ip6tables; do
        for table in filter nat mangle; do
            { "$ipt-save" -t "$table" 2> /dev/null | grep -E '^-A [A-Z-]+ .*-j KUBE-' | grep -v '^-A KUBE-' || true; } |
                while read -r rule; do eval "$ipt -t $table ${rule/-A/-D}" 2> /dev/null || true; done
            for chain in $("$ipt-save" -t "$table" 2> /dev/null | sed -n 's/^:\(KUBE-[^ ]*\).*/\1/p'); do
                "$ipt" -t "$table" -F "$chain" 2> /dev/null || true
            done
            for chain in $("$ipt-save" -t "$table" 2> /dev/null | sed -n 's/^:\(KUBE-[^ ]*\).*/\1/p'); do
                "$ipt" -t "$table" -X "$chain" 2> /dev/null || true
            done
        done
    done
}

undo="$CLUSTER_STATE/undo"
if [ -f "$undo" ]; then
    while read -r kind a b; do
        case "$kind" in
            link) ip link delete "$a" 2> /dev/null || true ;;
            sysctl) sysctl -qw "$a=$b" 2> /dev/null || true ;;
            iptables) remove_kube_chains ;;
            cgroup)
                # Leaves first: a cgroup folder goes only once it is empty.
                [ -d "$a" ] && find "$a" -depth -type d -exec rmdir {} + 2> /dev/null || true
                ;;
            dir) rm -rf "$a" ;;
            shim-before) : ;;
        esac
    done < "$undo"
    # Shim sockets containerd left in /run/containerd/s that were not there before.
    if [ -d /run/containerd/s ]; then
        for s in /run/containerd/s/*; do
            [ -e "$s" ] || continue
            grep -qxF "shim-before $(basename "$s")" "$undo" || rm -f "$s"
        done
    fi
fi

# Nothing of ours may be left: say so loudly if something is.
left=()
ip link show "$BRIDGE" > /dev/null 2>&1 && left+=("interface $BRIDGE")
if grep -qx iptables "$undo" 2> /dev/null && iptables-save 2> /dev/null | grep -q '^:KUBE-'; then
    left+=("iptables chains: $(iptables-save 2> /dev/null | sed -n 's/^:\(KUBE-[^ ]*\).*/\1/p' | tr '\n' ' ')")
fi
for name in "$CLUSTER_STATE"/pids/*; do
    [ -e "$name" ] && kill -0 "$(cat "$name")" 2> /dev/null && left+=("process $(basename "$name")")
done
[ ${#left[@]} -eq 0 ] || die "left behind: ${left[*]}"
rm -rf "$CLUSTER_STATE"
log "cluster stopped and cleaned up"
