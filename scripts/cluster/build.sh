#!/usr/bin/env bash
# Builds the local cluster's binaries from the Go module proxy, pinned by
# scripts/cluster/versions.env, into a cache OUTSIDE the clone:
#
#   $GOLD_CACHE_DIR/cluster/<component>-<version>/bin/...   (default
#   GOLD_CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/gold-platform)
#
# A component whose folder has its `.built` stamp is not rebuilt, so only the
# first run is slow (tens of minutes on 2 cores; progress is printed every
# minute). Usage: build.sh [etcd|kubernetes|cni|coredns|pause|argocd|traefik|
# cert-manager|registry|cosign|policy-controller ...] (default: everything
# `make cluster-up` needs; Argo CD, the add-ons its health checks wait on
# and the signed-image chain only when asked).
#
# k8s.io/kubernetes, etcd's server and Argo CD carry `replace` directives, so
# `go install MOD@VERSION` refuses them; each is built from a small wrapper
# module generated here that requires the pinned release (the usual way to
# build such modules as a dependency).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/cluster/lib.sh
. "$HERE/lib.sh"

export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
LDFLAGS_STRIP="-s -w"

# run_logged NAME LOG CMD...: runs CMD with its output in LOG, printing one
# progress line a minute (elapsed time, lines of build output so far).
run_logged() {
    local name="$1" logfile="$2"; shift 2
    local start=$SECONDS
    "$@" > "$logfile" 2>&1 &
    local pid=$!
    while kill -0 "$pid" 2> /dev/null; do
        for _ in $(seq 60); do kill -0 "$pid" 2> /dev/null || break; sleep 1; done
        if kill -0 "$pid" 2> /dev/null; then
            log "  $name: still building, $((SECONDS - start)) s, $(wc -l < "$logfile") packages so far"
        fi
    done
    if ! wait "$pid"; then
        tail -n 30 "$logfile" >&2
        die "$name: build failed (full log: $logfile)"
    fi
    log "  $name: built in $((SECONDS - start)) s"
}

# component NAME VERSION: sets DEST/WORK for a component; returns 1 when built.
component() {
    DEST="$(component_dir "$1" "$2")"
    WORK="$GOLD_CACHE_DIR/build/$1-$2"
    if [ -f "$DEST/.built" ]; then
        log "$1 $2: cached in $DEST"
        return 1
    fi
    log "$1 $2: building into $DEST"
    rm -rf "$DEST" "$WORK"
    mkdir -p "$DEST/bin" "$WORK"
}

build_etcd() {
    component etcd "$ETCD_VERSION" || return 0
    cat > "$WORK/go.mod" << EOF
module goldplatform.local/cluster/etcd

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
    cat > "$WORK/main.go" << 'EOF'
// Command etcd is upstream's etcd server, built as a dependency.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
    (cd "$WORK" && go mod tidy > tidy.log 2>&1) || die "etcd: go mod tidy failed ($WORK/tidy.log)"
    run_logged etcd "$WORK/build.log" bash -c "cd '$WORK' && go build -v -trimpath -ldflags '$LDFLAGS_STRIP' -o '$DEST/bin/etcd' ."
    touch "$DEST/.built"
}

KUBERNETES_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

build_kubernetes() {
    component kubernetes "$KUBERNETES_VERSION" || return 0
    local minor staging_version upstream_mod
    minor="$(echo "$KUBERNETES_VERSION" | cut -d. -f2)"
    staging_version="v0.${KUBERNETES_VERSION#v1.}"
    upstream_mod="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
    [ -f "$upstream_mod" ] || die "kubernetes: upstream go.mod not found in the module cache"
    {
        printf 'module goldplatform.local/cluster/kubernetes\n\ngo 1.24\n\nrequire k8s.io/kubernetes %s\n\n' "$KUBERNETES_VERSION"
        # Upstream replaces its staging modules with ./staging/src/k8s.io/X;
        # as a dependency they come from the proxy at the matching v0 version.
        sed -n 's|^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*|replace \1 => \1 '"$staging_version"'|p' "$upstream_mod"
    } > "$WORK/go.mod"
    log "  kubernetes: $(grep -c '^replace' "$WORK/go.mod") staging modules pinned to $staging_version"
    {
        printf '//go:build tools\n\n// Package tools keeps the commands below in go.mod.\npackage tools\n\nimport (\n'
        for c in "${KUBERNETES_COMMANDS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
        printf ')\n'
    } > "$WORK/tools.go"
    (cd "$WORK" && go mod tidy > tidy.log 2>&1) || die "kubernetes: go mod tidy failed ($WORK/tidy.log)"
    local ldflags="$LDFLAGS_STRIP" pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
    done
    local pkgs=()
    for c in "${KUBERNETES_COMMANDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
    # One go build for all commands, so they share the compiled packages.
    run_logged kubernetes "$WORK/build.log" bash -c "cd '$WORK' && go build -v -trimpath -ldflags '$ldflags' -o '$DEST/bin/' ${pkgs[*]}"
    touch "$DEST/.built"
}

build_cni() {
    component cni-plugins "$CNI_PLUGINS_VERSION" || return 0
    local p
    for p in main/bridge main/loopback ipam/host-local meta/portmap; do
        run_logged "cni ${p#*/}" "$WORK/${p#*/}.log" \
            env GOBIN="$DEST/bin" go install -trimpath -ldflags "$LDFLAGS_STRIP" \
            "github.com/containernetworking/plugins/plugins/$p@$CNI_PLUGINS_VERSION"
    done
    touch "$DEST/.built"
}

build_coredns() {
    component coredns "$COREDNS_VERSION" || return 0
    cat > "$WORK/go.mod" << EOF
module goldplatform.local/cluster/coredns

go 1.24

require github.com/coredns/coredns $COREDNS_VERSION
EOF
    cat > "$WORK/main.go" << 'EOF'
// Command coredns is upstream's CoreDNS with its default plugin set.
package main

import (
	_ "github.com/coredns/coredns/core/plugin"
	"github.com/coredns/coredns/coremain"
)

func main() { coremain.Run() }
EOF
    (cd "$WORK" && go mod tidy > tidy.log 2>&1) || die "coredns: go mod tidy failed ($WORK/tidy.log)"
    run_logged coredns "$WORK/build.log" bash -c "cd '$WORK' && go build -v -trimpath -ldflags '$LDFLAGS_STRIP' -o '$DEST/bin/coredns' ."
    touch "$DEST/.built"
}

build_pause() {
    local src="$ROOT/cluster/pause"
    component pause "$(pause_version)" || return 0
    run_logged pause "$WORK/build.log" bash -c "cd '$src' && go build -trimpath -ldflags '$LDFLAGS_STRIP' -o '$DEST/bin/pause' ."
    touch "$DEST/.built"
}

build_argocd() {
    component argocd "$ARGOCD_VERSION" || return 0
    export GOTOOLCHAIN="$ARGOCD_GO_TOOLCHAIN"
    local upstream
    upstream="$(go mod download -json "github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$upstream" ] || die "argocd: module not found in the module cache"
    # A writable copy with one patch: the application controller's metrics
    # listener is hard-coded to 0.0.0.0:8082; make it follow
    # ARGOCD_APPLICATION_CONTROLLER_METRICS_ADDRESS (default unchanged).
    cp -r "$upstream" "$WORK/argo-cd"
    chmod -R u+w "$WORK/argo-cd"
    local controller="$WORK/argo-cd/controller/appcontroller.go"
    local hard_coded='metricsAddr := fmt.Sprintf("0.0.0.0:%d", metricsPort)'
    grep -qF "$hard_coded" "$controller" || die "argocd: the metrics listener patch no longer applies to $ARGOCD_VERSION"
    sed -i "s|${hard_coded}|metricsAddr := fmt.Sprintf(\"%s:%d\", env.StringFromEnv(\"ARGOCD_APPLICATION_CONTROLLER_METRICS_ADDRESS\", \"0.0.0.0\"), metricsPort)|" "$controller"
    {
        printf 'module goldplatform.local/cluster/argocd\n\ngo 1.25\n\nrequire github.com/argoproj/argo-cd/v3 %s\n\n' "$ARGOCD_VERSION"
        printf 'replace github.com/argoproj/argo-cd/v3 => ./argo-cd\n\n'
        # Upstream's own replace block, minus its local ./gitops-engine (the
        # proxy serves gitops-engine/v3 at the same version).
        awk '/^replace \(/{on=1; print; next} on && /^\)/{print; on=0; next} on' "$WORK/argo-cd/go.mod"
    } > "$WORK/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/argoproj/argo-cd/v3/cmd"\n' > "$WORK/tools.go"
    (cd "$WORK" && go mod tidy > tidy.log 2>&1) || die "argocd: go mod tidy failed ($WORK/tidy.log)"
    run_logged argocd "$WORK/build.log" bash -c "cd '$WORK' && go build -v -trimpath -ldflags '$LDFLAGS_STRIP -X github.com/argoproj/argo-cd/v3/common.version=${ARGOCD_VERSION#v}' -o '$DEST/bin/argocd' github.com/argoproj/argo-cd/v3/cmd"
    # repo-server needs upstream's git wrapper on its PATH, and the base
    # configuration and CRDs come from the same module.
    install -m 0755 "$WORK/argo-cd/hack/git-verify-wrapper.sh" "$DEST/bin/git-verify-wrapper.sh"
    cp -r "$WORK/argo-cd/manifests/crds" "$DEST/crds"
    cp -r "$WORK/argo-cd/manifests/base/config" "$DEST/config"
    touch "$DEST/.built"
}

# Traefik, the cluster's ingress controller (its ingress-nginx provider serves
# the manifests' `nginx` class and annotations). Three of its dependencies are
# not what the Go module proxy serves, so the wrapper module replaces them:
# its nested dynamic/ext module (not in its zip; an empty stand-in in
# cluster/traefik/ext), the go-http-auth fork commit it pins (refused; the
# API-compatible commit Traefik 3.6 used), and lego with the DNS-01 providers
# whose SDKs are refused taken out (ACME DNS challenges through those DNS
# hosts are all that is lost; the cluster uses none).
build_traefik() {
    component traefik "$TRAEFIK_VERSION" || return 0
    local lego
    lego="$(go mod download -json "github.com/go-acme/lego/v5@$TRAEFIK_LEGO_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$lego" ] || die "traefik: lego $TRAEFIK_LEGO_VERSION not found in the module cache"
    cp -r "$lego" "$WORK/lego" && chmod -R u+w "$WORK/lego"
    cp -r "$ROOT/cluster/traefik/ext" "$WORK/ext"
    local dns="$WORK/lego/providers/dns" p
    for p in $TRAEFIK_DROPPED_DNS_PROVIDERS; do
        grep -q "^	case \"$p\"" "$dns/zz_gen_dns_providers.go" || die "traefik: lego has no DNS provider '$p' to drop"
        sed -i -e "\|\"github.com/go-acme/lego/v5/providers/dns/$p\"\$|d" \
            -e "/^	case \"$p\"/,/return $p\.NewDNSProvider()/d" "$dns/zz_gen_dns_providers.go"
        rm -rf "${dns:?}/$p"
    done
    rm -f "$dns/dns_providers_test.go"
    cat > "$WORK/go.mod" << GOMOD
module goldplatform.local/cluster/traefik

go 1.26.0

require github.com/traefik/traefik/v3 $TRAEFIK_VERSION

replace github.com/traefik/traefik/dynamic/ext => ./ext

replace github.com/abbot/go-http-auth => github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e

replace github.com/go-acme/lego/v5 => ./lego

// From Traefik's own go.mod.
replace github.com/gorilla/mux => github.com/containous/mux v0.0.0-20250523120546-41b6ec3aed59

exclude github.com/tencentcloud/tencentcloud-sdk-go v3.0.83+incompatible
GOMOD
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/traefik/traefik/v3/cmd/traefik"\n' > "$WORK/tools.go"
    (cd "$WORK" && go mod tidy > tidy.log 2>&1) || die "traefik: go mod tidy failed ($WORK/tidy.log)"
    run_logged traefik "$WORK/build.log" bash -c "cd '$WORK' && go build -v -trimpath -ldflags '$LDFLAGS_STRIP -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION' -o '$DEST/bin/traefik' github.com/traefik/traefik/v3/cmd/traefik"
    touch "$DEST/.built"
}

# cert-manager's controllers, from the release's root module. Upstream's
# cmd/controller module (the release image's wiring) is not served by the Go
# module proxy, so cluster/cert-manager/main.go wires them the same way.
build_cert_manager() {
    component cert-manager "$CERT_MANAGER_VERSION" || return 0
    cp "$ROOT/cluster/cert-manager/main.go" "$WORK/main.go"
    printf 'module goldplatform.local/cluster/cert-manager\n\ngo 1.26.0\n\nrequire github.com/cert-manager/cert-manager %s\n' \
        "$CERT_MANAGER_VERSION" > "$WORK/go.mod"
    (cd "$WORK" && go mod tidy > tidy.log 2>&1) || die "cert-manager: go mod tidy failed ($WORK/tidy.log)"
    run_logged cert-manager "$WORK/build.log" bash -c "cd '$WORK' && go build -v -trimpath -ldflags '$LDFLAGS_STRIP' -o '$DEST/bin/cert-manager-controller' ."
    touch "$DEST/.built"
}

# The OCI registry staging's pods pull from (CNCF Distribution, the
# reference registry) and cosign, which signs what is pushed there.
build_registry() {
    component registry "$DISTRIBUTION_VERSION" || return 0
    run_logged registry "$WORK/build.log" env GOBIN="$DEST/bin" \
        go install -v -trimpath -ldflags "$LDFLAGS_STRIP" "github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION_VERSION"
    touch "$DEST/.built"
}

build_cosign() {
    component cosign "$COSIGN_VERSION" || return 0
    run_logged cosign "$WORK/build.log" env GOBIN="$DEST/bin" \
        go install -v -trimpath -ldflags "$LDFLAGS_STRIP" "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
    touch "$DEST/.built"
}

# Sigstore's policy-controller: the admission webhook that checks cosign
# signatures against ClusterImagePolicy objects. Its go.mod has `replace`
# directives, so it is built from a wrapper module with the same ones; its
# install manifests (config/, with its CRDs) come from the same module.
build_policy_controller() {
    component policy-controller "$POLICY_CONTROLLER_VERSION" || return 0
    local upstream
    upstream="$(go mod download -json "github.com/sigstore/policy-controller@$POLICY_CONTROLLER_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$upstream" ] || die "policy-controller: module not found in the module cache"
    {
        printf 'module goldplatform.local/cluster/policy-controller\n\ngo 1.26.0\n\nrequire github.com/sigstore/policy-controller %s\n\n' "$POLICY_CONTROLLER_VERSION"
        sed -n '/^replace /,$p' "$upstream/go.mod"
    } > "$WORK/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/sigstore/policy-controller/cmd/webhook"\n' > "$WORK/tools.go"
    (cd "$WORK" && go mod tidy > tidy.log 2>&1) || die "policy-controller: go mod tidy failed ($WORK/tidy.log)"
    run_logged policy-controller "$WORK/build.log" bash -c "cd '$WORK' && go build -v -trimpath -ldflags '$LDFLAGS_STRIP' -o '$DEST/bin/policy-controller-webhook' github.com/sigstore/policy-controller/cmd/webhook"
    cp -r "$upstream/config" "$DEST/config"
    chmod -R u+w "$DEST/config"
    touch "$DEST/.built"
}

main() {
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=(pause cni etcd kubernetes coredns)
    local t start=$SECONDS
    for t in "${targets[@]}"; do
        case "$t" in
            etcd | kubernetes | cni | coredns | pause | argocd | traefik | cert-manager | registry | cosign | policy-controller)
                "build_${t//-/_}" ;;
            *) die "unknown component '$t' (etcd, kubernetes, cni, coredns, pause, argocd, traefik, cert-manager, registry, cosign, policy-controller)" ;;
        esac
    done
    log "binaries ready in $((SECONDS - start)) s (cache: $GOLD_CACHE_DIR)"
}

main "$@"
