#!/usr/bin/env bash
# The cluster add-ons that the manifests' Ingress and Issuer need to become
# Healthy, as on any production cluster: an ingress controller serving the
# `nginx` IngressClass (Traefik v3 with its ingress-nginx provider) and
# cert-manager's controller. Both are real upstream releases built by
# build.sh, running as host processes with their own client certificates;
# everything listens on 127.0.0.1.
#
# Usage: addons.sh start   (called by up.sh with KUBECONFIG set, ARGOCD=1)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/cluster/lib.sh
. "$HERE/lib.sh"
# shellcheck source=scripts/cluster/cluster.env disable=SC1091
. "$HERE/cluster.env"
[ "${1:-}" = start ] || die "usage: addons.sh start"

TRAEFIK_BIN="$(component_dir traefik "$TRAEFIK_VERSION")/bin/traefik"
CERT_MANAGER_BIN="$(component_dir cert-manager "$CERT_MANAGER_VERSION")/bin/cert-manager-controller"

# --- ingress controller -------------------------------------------------------
# Ingresses of class nginx get the address Traefik serves on (127.0.0.1) in
# their status, which is what Argo CD's Ingress health check waits for.
kubectl apply --server-side -f "$ROOT/cluster/addons/traefik.yaml" > /dev/null
mkdir -p "$CLUSTER_STATE/traefik"
(cd "$CLUSTER_STATE/traefik" && start traefik env -u KUBERNETES_SERVICE_HOST -u KUBERNETES_SERVICE_PORT \
    KUBECONFIG="$CLUSTER_STATE/traefik.kubeconfig" "$TRAEFIK_BIN" \
    --global.checknewversion=false --global.sendanonymoususage=false \
    --log.level=INFO --log.nocolor=true --accesslog=true \
    --entrypoints.web.address="127.0.0.1:$INGRESS_HTTP_PORT" \
    --entrypoints.websecure.address="127.0.0.1:$INGRESS_HTTPS_PORT" --entrypoints.websecure.http.tls=true \
    --entrypoints.traefik.address="127.0.0.1:$INGRESS_PING_PORT" --ping=true \
    --providers.kubernetesingressnginx=true \
    --providers.kubernetesingressnginx.ingressclass=nginx \
    --providers.kubernetesingressnginx.controllerclass=k8s.io/ingress-nginx \
    --providers.kubernetesingressnginx.httpentrypoint=web \
    --providers.kubernetesingressnginx.httpsentrypoint=websecure \
    --providers.kubernetesingressnginx.proxyrequestbuffering=true \
    --providers.kubernetesingressnginx.publishstatusaddress=127.0.0.1)
wait_for "ingress controller (Traefik $TRAEFIK_VERSION)" 60 curl -fsS "http://127.0.0.1:$INGRESS_PING_PORT/ping"

# --- cert-manager ---------------------------------------------------------------
# Its CRDs are already applied (crds.sh). No webhook runs, and none is
# registered, so the API server never calls one.
kubectl apply --server-side -f "$ROOT/cluster/addons/cert-manager.yaml" > /dev/null
start cert-manager "$CERT_MANAGER_BIN" --kubeconfig "$CLUSTER_STATE/cert-manager.kubeconfig" \
    --cluster-resource-namespace cert-manager --metrics-listen-address "127.0.0.1:$CERT_MANAGER_METRICS_PORT"
wait_for "cert-manager $CERT_MANAGER_VERSION" 60 curl -fsS "http://127.0.0.1:$CERT_MANAGER_METRICS_PORT/metrics"
