#!/usr/bin/env bash
# Brings up a real single-node Kubernetes on this machine, everything bound to
# 127.0.0.1 (pods live on the harness's own bridge), and returns:
#
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler (host
#   processes); containerd (CRI) + runc; kubelet; kube-proxy (iptables);
#   CoreDNS (host process answering on the bridge's gateway address);
#   static local PersistentVolumes; the real CRDs of the components the
#   overlays use; the project's images imported into containerd.
#
# Usage: up.sh            (make cluster-up; DEPLOY=0 skips deploying dev)
# State (certificates, data, logs, pids) lives in $CLUSTER_STATE
# (default .state/cluster); scripts/cluster/down.sh undoes all of it.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/cluster/lib.sh
. "$HERE/lib.sh"
# shellcheck source=scripts/cluster/cluster.env disable=SC1091
. "$HERE/cluster.env"

[ "$(id -u)" -eq 0 ] || die "the local cluster needs root (containerd, kubelet, iptables, mounts)"
if [ -f "$CLUSTER_STATE/pids/kube-apiserver" ] && kill -0 "$(cat "$CLUSTER_STATE/pids/kube-apiserver")" 2> /dev/null; then
    die "a cluster is already running from $CLUSTER_STATE (make cluster-down stops it)"
fi
for port in "${CLUSTER_PORTS[@]}"; do
    if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
        die "port 127.0.0.1:$port is in use; the local cluster needs it (stop what listens there)"
    fi
done
if ip link show "$BRIDGE" > /dev/null 2>&1; then
    die "interface $BRIDGE exists already (a cluster that was not stopped? make cluster-down)"
fi

started=$SECONDS
rm -rf "$CLUSTER_STATE"
mkdir -p "$CLUSTER_STATE"/{pids,logs,pki,etcd,kubelet,cni/net.d,cni/ipam,volumes,containerd}
# Everything down.sh must undo is recorded as it is made.
: > "$CLUSTER_STATE/undo"

# --- Debian packages --------------------------------------------------------
need=(containerd runc iptables conntrack openssl git socat)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
fi

# --- binaries (cached outside the clone) ------------------------------------
components=(pause cni etcd kubernetes coredns)
[ "${ARGOCD:-0}" = 1 ] && components+=(argocd traefik cert-manager registry cosign policy-controller)
"$HERE/build.sh" "${components[@]}"
K8S_BIN="$(component_dir kubernetes "$KUBERNETES_VERSION")/bin"
ETCD_BIN="$(component_dir etcd "$ETCD_VERSION")/bin"
CNI_BIN="$(component_dir cni-plugins "$CNI_PLUGINS_VERSION")/bin"
COREDNS_BIN="$(component_dir coredns "$COREDNS_VERSION")/bin"
mkdir -p "$CLUSTER_STATE/bin"
ln -sf "$K8S_BIN/kubectl" "$CLUSTER_STATE/bin/kubectl"
export PATH="$CLUSTER_STATE/bin:$PATH"

# --- certificates -----------------------------------------------------------
"$HERE/pki.sh" "$CLUSTER_STATE/pki"
PKI="$CLUSTER_STATE/pki"
kubeconfig() { # NAME: a kubeconfig for the client certificate NAME
    local file="$CLUSTER_STATE/$1.kubeconfig"
    local k=("$K8S_BIN/kubectl" --kubeconfig "$file")
    "${k[@]}" config set-cluster local --server="https://127.0.0.1:$APISERVER_PORT" \
        --certificate-authority="$PKI/ca.crt" --embed-certs > /dev/null
    "${k[@]}" config set-credentials "$1" --client-certificate="$PKI/$1.crt" \
        --client-key="$PKI/$1.key" --embed-certs > /dev/null
    "${k[@]}" config set-context local --cluster=local --user="$1" > /dev/null
    "${k[@]}" config use-context local > /dev/null
}
for c in admin kube-controller-manager kube-scheduler kubelet kube-proxy coredns traefik cert-manager; do kubeconfig "$c"; done
KUBECONFIG="$CLUSTER_STATE/admin.kubeconfig"
export KUBECONFIG

# --- host network: the pods' bridge, forwarding ------------------------------
ip link add "$BRIDGE" type bridge
echo "link $BRIDGE" >> "$CLUSTER_STATE/undo"
ip addr add "$BRIDGE_GATEWAY/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
for key in net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables; do
    echo "sysctl $key $(sysctl -n "$key")" >> "$CLUSTER_STATE/undo"
    sysctl -qw "$key=1"
done

# --- etcd, control plane ------------------------------------------------------
start etcd "$ETCD_BIN/etcd" --name local --data-dir "$CLUSTER_STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "local=http://127.0.0.1:$ETCD_PEER_PORT" --listen-metrics-urls "http://127.0.0.1:$ETCD_METRICS_PORT" \
    --quota-backend-bytes 2147483648 --log-level warn
wait_for etcd 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

start kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --secure-port "$APISERVER_PORT" --advertise-address "$BRIDGE_GATEWAY" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/kube-apiserver.crt" --tls-private-key-file "$PKI/kube-apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types Hostname,InternalIP \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=false --profiling=false --event-ttl 1h
wait_for kube-apiserver 120 kubectl get --raw /readyz

start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$CLUSTER_STATE/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig "$CLUSTER_STATE/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig "$CLUSTER_STATE/kube-controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false
start kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig "$CLUSTER_STATE/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "$CLUSTER_STATE/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "$CLUSTER_STATE/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false

# --- containerd (CRI) ----------------------------------------------------------
find /run/containerd/s -mindepth 1 -maxdepth 1 -printf 'shim-before %f\n' 2> /dev/null >> "$CLUSTER_STATE/undo" || true
sed -e "s|@STATE@|$CLUSTER_STATE|g" -e "s|@CNI_BIN@|$CNI_BIN|g" -e "s|@PAUSE_IMAGE@|$PAUSE_IMAGE|g" \
    "$ROOT/cluster/config/containerd.toml.in" > "$CLUSTER_STATE/containerd/config.toml"
sed -e "s|@STATE@|$CLUSTER_STATE|g" -e "s|@BRIDGE@|$BRIDGE|g" \
    -e "s|@POD_CIDR@|$POD_CIDR|g" -e "s|@GATEWAY@|$BRIDGE_GATEWAY|g" \
    "$ROOT/cluster/config/cni.conflist.in" > "$CLUSTER_STATE/cni/net.d/10-gold-platform.conflist"
registry_hosts="$CLUSTER_STATE/containerd/certs.d/$REGISTRY_SERVICE_IP:$REGISTRY_SERVICE_PORT"
mkdir -p "$registry_hosts"
printf 'server = "http://%s"\n\n[host."http://%s"]\n  capabilities = ["pull", "resolve"]\n' \
    "$REGISTRY_SERVICE_IP:$REGISTRY_SERVICE_PORT" "$REGISTRY_SERVICE_IP:$REGISTRY_SERVICE_PORT" > "$registry_hosts/hosts.toml"
start containerd containerd --config "$CLUSTER_STATE/containerd/config.toml"
CONTAINERD_SOCK="$CLUSTER_STATE/containerd/containerd.sock"
wait_for containerd 60 ctr --address "$CONTAINERD_SOCK" version

# Images before the kubelet: the sandbox image must be there for the first pod.
"$HERE/images.sh" "$CONTAINERD_SOCK"

# --- kubelet, kube-proxy, CoreDNS -----------------------------------------------
[ -d /var/lib/kubelet ] || echo "dir /var/lib/kubelet" >> "$CLUSTER_STATE/undo"
for controller in /sys/fs/cgroup/*/; do
    [ -d "$controller/kubepods" ] || echo "cgroup ${controller}kubepods" >> "$CLUSTER_STATE/undo"
done
sed -e "s|@STATE@|$CLUSTER_STATE|g" -e "s|@DNS@|$BRIDGE_GATEWAY|g" -e "s|@PKI@|$PKI|g" \
    "$ROOT/cluster/config/kubelet.yaml.in" > "$CLUSTER_STATE/kubelet/config.yaml"
start kubelet "$K8S_BIN/kubelet" --config "$CLUSTER_STATE/kubelet/config.yaml" \
    --kubeconfig "$CLUSTER_STATE/kubelet.kubeconfig" --root-dir "$CLUSTER_STATE/kubelet" \
    --hostname-override localhost --node-ip "$BRIDGE_GATEWAY" \
    --container-runtime-endpoint "unix://$CONTAINERD_SOCK"
sed -e "s|@STATE@|$CLUSTER_STATE|g" -e "s|@POD_CIDR@|$POD_CIDR|g" -e "s|@GATEWAY@|$BRIDGE_GATEWAY|g" \
    "$ROOT/cluster/config/kube-proxy.yaml.in" > "$CLUSTER_STATE/kube-proxy.yaml"
# The kubelet and kube-proxy add KUBE-* chains; down.sh removes them when
# the host had none before.
if ! iptables-save 2> /dev/null | grep -q '^:KUBE-'; then echo "iptables" >> "$CLUSTER_STATE/undo"; fi
start kube-proxy "$K8S_BIN/kube-proxy" --config "$CLUSTER_STATE/kube-proxy.yaml" --hostname-override localhost
sed -e "s|@STATE@|$CLUSTER_STATE|g" -e "s|@GATEWAY@|$BRIDGE_GATEWAY|g" \
    "$ROOT/cluster/config/Corefile.in" > "$CLUSTER_STATE/Corefile"
kubectl apply --server-side -f "$ROOT/cluster/addons/coredns-rbac.yaml" > /dev/null
start coredns "$COREDNS_BIN/coredns" -conf "$CLUSTER_STATE/Corefile"
wait_for "node localhost" 120 kubectl wait --for=condition=Ready node/localhost --timeout=1s
wait_for CoreDNS 60 curl -fsS "http://127.0.0.1:$COREDNS_READY_PORT/ready"

# --- cluster add-ons: storage, CRDs ----------------------------------------------------
for i in $(seq 1 "$LOCAL_VOLUMES"); do
    mkdir -p "$CLUSTER_STATE/volumes/pv-$i"
    sed -e "s|@NAME@|local-pv-$i|g" -e "s|@PATH@|$CLUSTER_STATE/volumes/pv-$i|g" "$ROOT/cluster/addons/local-pv.yaml.in"
    echo "---"
done > "$CLUSTER_STATE/local-pvs.yaml"
kubectl apply --server-side -f "$ROOT/cluster/addons/storageclass.yaml" -f "$CLUSTER_STATE/local-pvs.yaml" > /dev/null
"$HERE/crds.sh" apply

cat > "$CLUSTER_STATE/env" << EOF
export KUBECONFIG=$KUBECONFIG
export PATH=$CLUSTER_STATE/bin:\$PATH
EOF
if [ "${ARGOCD:-0}" = 1 ]; then
    "$HERE/addons.sh" start
    "$HERE/sign-images.sh"
    "$HERE/argocd.sh" start
fi
log "cluster up in $((SECONDS - started)) s: Kubernetes $KUBERNETES_VERSION, node localhost, API https://127.0.0.1:$APISERVER_PORT"

if [ "${DEPLOY:-1}" = 1 ] && [ "${ARGOCD:-0}" = 1 ]; then
    # As README tells a user: apply the root app; Argo CD does the rest.
    # shellcheck disable=SC1091
    (. "$CLUSTER_STATE/env" && "$GOLD_E2E_GIT_WORK_TREE/scripts/deploy-k8s.sh")
elif [ "${DEPLOY:-1}" = 1 ]; then
    deploy_start=$SECONDS
    "$ROOT/scripts/deploy-k8s.sh" --direct dev --overlay "$ROOT/kustomize/overlays/e2e"
    log "dev overlay (kustomize/overlays/e2e: dev + local image names) deployed in $((SECONDS - deploy_start)) s"
fi

cat << EOF

  KUBECONFIG=$KUBECONFIG
  . $CLUSTER_STATE/env        # KUBECONFIG and kubectl on PATH
  kubectl get pods -A
  kubectl -n gold-platform-dev port-forward svc/gold-platform 127.0.0.1:8080:8080
  make cluster-down           # stops everything and cleans up
EOF
