#!/usr/bin/env bash
# The real CRDs of Argo CD, cert-manager, External Secrets, the Prometheus
# Operator and Sigstore's policy-controller, from the pinned releases'
# modules on the Go module proxy.
#
#   crds.sh files    print the CRD files, one per line
#   crds.sh apply    install them into the cluster of $KUBECONFIG and wait
#                    until they are established
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/cluster/lib.sh
. "$HERE/lib.sh"

# module_dir MODULE@VERSION: the module's folder in the module cache.
module_dir() {
    local dir
    dir="$(GOTOOLCHAIN="${2:-local}" GOFLAGS=-mod=mod go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$dir" ] || die "go mod download $1 failed (the Go module proxy is GOPROXY: go env GOPROXY)"
    printf '%s' "$dir"
}

files() {
    local d
    d="$(module_dir "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" "$ARGOCD_GO_TOOLCHAIN")"
    ls "$d"/manifests/crds/application-crd.yaml "$d"/manifests/crds/applicationset-crd.yaml "$d"/manifests/crds/appproject-crd.yaml
    d="$(module_dir "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION")"
    ls "$d"/deploy/crds/*.yaml
    d="$(module_dir "github.com/external-secrets/external-secrets@$EXTERNAL_SECRETS_VERSION")"
    ls "$d"/config/crds/bases/external-secrets.io_*.yaml
    d="$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"
    ls "$d"/example/prometheus-operator-crd/monitoring.coreos.com_{servicemonitors,podmonitors,prometheusrules}.yaml
    d="$(module_dir "github.com/sigstore/policy-controller@$POLICY_CONTROLLER_VERSION")"
    ls "$d"/config/300-clusterimagepolicy.yaml
}

case "${1:-}" in
    files) files ;;
    apply)
        mapfile -t crd_files < <(files)
        args=()
        for f in "${crd_files[@]}"; do args+=(-f "$f"); done
        kubectl apply --server-side --force-conflicts "${args[@]}" > /dev/null
        kubectl wait --for=condition=Established --timeout=60s "${args[@]}" > /dev/null
        log "${#crd_files[@]} CRDs installed (Argo CD $ARGOCD_VERSION, cert-manager $CERT_MANAGER_VERSION, External Secrets $EXTERNAL_SECRETS_VERSION, Prometheus Operator $PROMETHEUS_OPERATOR_VERSION, policy-controller $POLICY_CONTROLLER_VERSION)"
        ;;
    *) die "usage: crds.sh files|apply" ;;
esac
