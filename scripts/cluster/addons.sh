#!/usr/bin/env bash
# The cluster add-ons that the manifests' Ingress and Issuer need to become
# Healthy, as on any production cluster: an ingress controller serving the
# `nginx` IngressClass (Traefik v3 with its ingress-nginx provider) and
# cert-manager's controller, both host processes with their own client
# certificates listening on 127.0.0.1. And what staging and prod rely on
# for signed images: an OCI registry and Sigstore's policy-controller,
# which run as pods (the API server calls the webhook through its Service).
# All are real upstream releases built by build.sh.
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

# --- the API server, for pods ---------------------------------------------------
# policy-controller runs in a pod and watches the API; the API server listens
# on 127.0.0.1, so the address the kubernetes Service points pods at (the
# bridge's gateway, as CoreDNS answers there) is forwarded to it.
start apiserver-for-pods socat "TCP-LISTEN:$APISERVER_PORT,bind=$BRIDGE_GATEWAY,reuseaddr,fork" \
    "TCP:127.0.0.1:$APISERVER_PORT"
wait_for "API server on $BRIDGE_GATEWAY:$APISERVER_PORT for pods" 30 \
    curl -fsS --cacert "$CLUSTER_STATE/pki/ca.crt" "https://$BRIDGE_GATEWAY:$APISERVER_PORT/livez"

# --- OCI registry -------------------------------------------------------------
sed -e "s|@REGISTRY_IMAGE@|$REGISTRY_IMAGE|g" -e "s|@REGISTRY_SERVICE_IP@|$REGISTRY_SERVICE_IP|g" \
    -e "s|@REGISTRY_SERVICE_PORT@|$REGISTRY_SERVICE_PORT|g" \
    "$ROOT/cluster/addons/registry.yaml.in" > "$CLUSTER_STATE/registry.yaml"
kubectl apply --server-side -f "$CLUSTER_STATE/registry.yaml" > /dev/null

# --- policy-controller ----------------------------------------------------------
# The release's own install manifests, with three changes: the locally built
# image; no TUF (the public Sigstore root cannot be fetched here; keyless
# policies need it, key-based ones do not); and its webhook that resolves
# tags to digests at admission asks for a namespace label none of ours has,
# so that a tag in git is refused instead of being pinned silently to
# whatever it points at that minute.
# Images that no ClusterImagePolicy matches are refused (no-match-policy).
# Upstream's kustomization leaves its Deployment (webhook.yaml) out; it is
# listed here too.
mkdir -p "$CLUSTER_STATE/policy-controller"
UPSTREAM_CONFIG="$(realpath --relative-to="$CLUSTER_STATE/policy-controller" \
    "$(component_dir policy-controller "$POLICY_CONTROLLER_VERSION")/config")"
cat > "$CLUSTER_STATE/policy-controller/kustomization.yaml" << EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $UPSTREAM_CONFIG
  - $UPSTREAM_CONFIG/webhook.yaml
patches:
  - target: {kind: Deployment, name: webhook}
    patch: |-
      - {op: replace, path: /spec/template/spec/containers/0/image, value: "$POLICY_CONTROLLER_IMAGE"}
      - {op: add, path: /spec/template/spec/containers/0/imagePullPolicy, value: Never}
      - {op: add, path: /spec/template/spec/containers/0/args, value: ["--disable-tuf"]}
  - target: {kind: ConfigMap, name: config-policy-controller}
    patch: |-
      - {op: add, path: /data/no-match-policy, value: deny}
  - target: {kind: MutatingWebhookConfiguration, name: policy.sigstore.dev}
    patch: |-
      - op: replace
        path: /webhooks/0/namespaceSelector/matchExpressions/0/key
        value: gold-platform.io/resolve-image-tags-at-admission
EOF
"$ROOT/.tools/bin/kustomize" build --load-restrictor LoadRestrictionsNone "$CLUSTER_STATE/policy-controller" > "$CLUSTER_STATE/policy-controller.yaml"
kubectl apply --server-side -f "$CLUSTER_STATE/policy-controller.yaml" > /dev/null
kubectl -n gold-platform-registry rollout status deployment/registry --timeout=120s > /dev/null
log "registry ready at $REGISTRY_SERVICE_IP:$REGISTRY_SERVICE_PORT"
kubectl -n cosign-system rollout status deployment/webhook --timeout=180s > /dev/null
wait_for "policy-controller $POLICY_CONTROLLER_VERSION webhook (CA bundle set)" 120 \
    sh -c "kubectl get validatingwebhookconfiguration policy.sigstore.dev -o jsonpath='{.webhooks[0].clientConfig.caBundle}' | grep -q ."
