#!/usr/bin/env bash
# Argo CD on the local cluster (make cluster-up ARGOCD=1; always in make e2e):
# the real application controller, repo server and API server (built from
# the Go module proxy by build.sh) as host processes on 127.0.0.1, their Redis
# cache, the argocd CLI logged in (ARGOCD_OPTS in the cluster's env file),
# and a git "server" holding a clone of this repository.
#
# The clone (file://, a bare repository under the cluster's state) differs
# from this checkout by two commits: argocd/ points its repoURLs and
# sourceRepos at the clone instead of the public repository; and the image
# signature policy trusts this cluster's registry and signing key
# (sign-images.sh) instead of the project's registry and its workflows'
# keyless identity, which need GitHub and Sigstore's public services.
# Bootstrap is then what README tells a user: scripts/deploy-k8s.sh, from a
# work tree of that clone.
#
# Usage: argocd.sh start   (called by up.sh with KUBECONFIG set)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/cluster/lib.sh
. "$HERE/lib.sh"
# shellcheck source=scripts/cluster/cluster.env disable=SC1091
. "$HERE/cluster.env"
[ "${1:-}" = start ] || die "usage: argocd.sh start"

ARGOCD_HOME="$(component_dir argocd "$ARGOCD_VERSION")"
ARGOCD_STATE="$CLUSTER_STATE/argocd"
GIT_DIR_BARE="$CLUSTER_STATE/git/gold-platform.git"
WORK_TREE="$CLUSTER_STATE/git/work"
REPO_URL="file://$GIT_DIR_BARE"
PUBLIC_REPO_URL=https://github.com/gold-platform/gold-platform.git
mkdir -p "$ARGOCD_STATE/tmp" "$CLUSTER_STATE/git"

# --- the git server: a bare clone, and a work tree that pushes to it --------
git clone --quiet --bare "$ROOT" "$GIT_DIR_BARE"
git clone --quiet "$GIT_DIR_BARE" "$WORK_TREE"
git -C "$WORK_TREE" config user.name "gold-platform e2e"
git -C "$WORK_TREE" config user.email "e2e@gold-platform.invalid"
grep -rlF "$PUBLIC_REPO_URL" "$WORK_TREE/argocd" | xargs sed -i "s|$PUBLIC_REPO_URL|$REPO_URL|g"
git -C "$WORK_TREE" commit --quiet -am "argocd: point repoURL and sourceRepos at the local git server"
"$ROOT/.venv/bin/python" "$HERE/local_signature_policy.py" \
    "$WORK_TREE/kustomize/cluster/admission-policies/image-signatures.yaml" \
    "$REGISTRY_SERVICE_IP:$REGISTRY_SERVICE_PORT/gold-platform/**" "$CLUSTER_STATE/signing/release.pub"
git -C "$WORK_TREE" commit --quiet -am "admission-policies: trust this cluster's registry and signing key"
git -C "$WORK_TREE" push --quiet origin HEAD
log "git server $REPO_URL ($(git -C "$WORK_TREE" rev-parse --abbrev-ref HEAD) at $(git -C "$WORK_TREE" rev-parse --short HEAD))"

# --- Argo CD's namespace, base configuration, cache ---------------------------
kubectl create namespace argocd --dry-run=client -o yaml | kubectl apply --server-side -f - > /dev/null
kubectl -n argocd apply --server-side -k "$ARGOCD_HOME/config" > /dev/null
start argocd-redis "$ROOT/.venv/bin/redis-server" --bind 127.0.0.1 --port "$ARGOCD_REDIS_PORT" \
    --save "" --appendonly no --protected-mode yes
wait_for "Argo CD's Redis" 30 "$ROOT/.venv/bin/redis-cli" -p "$ARGOCD_REDIS_PORT" ping

# --- repo server and application controller -----------------------------------
# The repo server runs git (through upstream's git-verify-wrapper.sh) and the
# project's pinned kustomize, both found on PATH.
export KUBECONFIG ARGOCD_FAKE_IN_CLUSTER=true ARGOCD_GPG_ENABLED=false TMPDIR="$ARGOCD_STATE/tmp"
export PATH="$ARGOCD_HOME/bin:$ROOT/.tools/bin:$PATH"
start argocd-repo-server env ARGOCD_BINARY_NAME=argocd-repo-server "$ARGOCD_HOME/bin/argocd" \
    --address 127.0.0.1 --port "$ARGOCD_REPO_SERVER_PORT" \
    --metrics-address 127.0.0.1 --metrics-port "$ARGOCD_REPO_METRICS_PORT" \
    --redis "127.0.0.1:$ARGOCD_REDIS_PORT"
wait_for "Argo CD repo server" 60 curl -fsS "http://127.0.0.1:$ARGOCD_REPO_METRICS_PORT/metrics"
start argocd-application-controller env ARGOCD_BINARY_NAME=argocd-application-controller \
    ARGOCD_APPLICATION_CONTROLLER_METRICS_ADDRESS=127.0.0.1 "$ARGOCD_HOME/bin/argocd" \
    --namespace argocd --repo-server "127.0.0.1:$ARGOCD_REPO_SERVER_PORT" \
    --redis "127.0.0.1:$ARGOCD_REDIS_PORT" --metrics-port "$ARGOCD_CONTROLLER_METRICS_PORT" \
    --status-processors 4 --operation-processors 2 --app-resync 60 --app-resync-jitter 0 \
    --persist-resource-health
wait_for "Argo CD application controller" 60 curl -fsS "http://127.0.0.1:$ARGOCD_CONTROLLER_METRICS_PORT/metrics"

# The API server: what the argocd CLI talks to, and where manual syncs are
# checked against the project's sync windows. Plain HTTP on loopback; the
# admin password is the one it generates (argocd-initial-admin-secret).
start argocd-server env ARGOCD_BINARY_NAME=argocd-server "$ARGOCD_HOME/bin/argocd" \
    --namespace argocd --insecure --address 127.0.0.1 --port "$ARGOCD_SERVER_PORT" \
    --metrics-address 127.0.0.1 --metrics-port "$ARGOCD_SERVER_METRICS_PORT" \
    --repo-server "127.0.0.1:$ARGOCD_REPO_SERVER_PORT" --redis "127.0.0.1:$ARGOCD_REDIS_PORT" \
    --dex-server "" --staticassets "$ARGOCD_STATE/no-web-ui"
wait_for "Argo CD API server" 60 curl -fsS "http://127.0.0.1:$ARGOCD_SERVER_PORT/healthz"
wait_for "Argo CD admin password" 60 kubectl -n argocd get secret argocd-initial-admin-secret
ln -sf "$ARGOCD_HOME/bin/argocd" "$CLUSTER_STATE/bin/argocd"   # the CLI, next to kubectl
ARGOCD_OPTS="--config $ARGOCD_STATE/cli-config --server 127.0.0.1:$ARGOCD_SERVER_PORT --plaintext"
# shellcheck disable=SC2086 # ARGOCD_OPTS is a list of flags, as the CLI reads it
argocd $ARGOCD_OPTS login "127.0.0.1:$ARGOCD_SERVER_PORT" --username admin \
    --password "$(kubectl -n argocd get secret argocd-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d)" > /dev/null

cat >> "$CLUSTER_STATE/env" << EOF
export GOLD_E2E_GIT_WORK_TREE=$WORK_TREE
export ARGOCD_OPTS="$ARGOCD_OPTS"
EOF
log "Argo CD $ARGOCD_VERSION running; bootstrap from the git server's work tree: $WORK_TREE/scripts/deploy-k8s.sh"
