#!/usr/bin/env bash
# Deploy Gold Platform to a Kubernetes cluster.
#
#   scripts/deploy-k8s.sh [--context NAME] [--dry-run]
#       Bootstrap Argo CD: apply argocd/bootstrap/ (the bootstrap AppProject and
#       the root Application) into namespace argocd. Argo CD then creates the
#       gold-platform project and the dev/staging/prod Applications from
#       argocd/apps/ and keeps them in sync with git.
#
#   scripts/deploy-k8s.sh --direct ENV [--overlay DIR] [--context NAME] [--dry-run]
#                         [--yes] [--force]
#       Without Argo CD, in Argo CD's wave order: render kustomize/overlays/ENV
#       (or DIR, an overlay of it, e.g. one that maps images to local names);
#       apply secrets, config and the data stores and wait for PostgreSQL;
#       re-run the migration Job and wait for it (stopping at once if it
#       fails); then apply the backend and wait for its rollout.
#       The Argo CD gate still holds: inside a sync window that blocks a
#       manual sync of gold-platform-ENV (argocd/apps/project.yaml: the prod
#       freeze, Friday 17:00 to Monday 08:00 UTC) it refuses. prod asks you to
#       type its name first.
#
#   --dry-run   server-side dry run (kubectl apply --dry-run=server): the API
#               server validates everything, nothing is changed (no gate, no
#               question).
#   --context   kube context to use (default: the current context).
#   --yes       do not ask (prod); without it, stdin must be a terminal.
#   --force     deploy inside a blocking sync window (an emergency fix).
#
# Exit status: 0 done, 1 deployment failed, 2 bad usage, missing prerequisite,
# refused by a sync window or not confirmed. Every refusal comes before
# kubectl is run.
set -euo pipefail

readonly ARGOCD_NAMESPACE=argocd
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT

die() {
  echo "deploy-k8s: $*" >&2
  exit 2
}

usage() {
  sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

# once OPTION CURRENT NEW: an option that takes a value may be given once
# (`--direct dev --direct prod` must never quietly deploy prod).
once() {
  [[ -z "$2" ]] || die "$1 given twice ('$2', then '$3'): give it once"
  printf '%s' "$3"
}

context=""
dry_run=false
direct_env=""
overlay=""
assume_yes=false
force=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) dry_run=true ;;
    --yes) assume_yes=true ;;
    --force) force=true ;;
    --context)
      [[ $# -ge 2 && -n "$2" ]] || die "--context needs a context name"
      context=$(once --context "$context" "$2")
      shift
      ;;
    --context=*) context=$(once --context "$context" "${1#--context=}") ;;
    --direct)
      [[ $# -ge 2 && -n "$2" ]] || die "--direct needs an environment: dev, staging or prod"
      direct_env=$(once --direct "$direct_env" "$2")
      shift
      ;;
    --direct=*) direct_env=$(once --direct "$direct_env" "${1#--direct=}") ;;
    --overlay)
      [[ $# -ge 2 && -n "$2" ]] || die "--overlay needs a kustomize directory"
      overlay=$(once --overlay "$overlay" "$2")
      shift
      ;;
    --overlay=*) overlay=$(once --overlay "$overlay" "${1#--overlay=}") ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

if [[ -n "$direct_env" ]]; then
  case "$direct_env" in
    dev | staging | prod) ;;
    *) die "unknown environment '$direct_env': use dev, staging or prod" ;;
  esac
fi
if [[ -n "$overlay" ]]; then
  [[ -n "$direct_env" ]] || die "--overlay is only for --direct ENV"
  [[ -f "$overlay/kustomization.yaml" ]] || die "--overlay $overlay: no kustomization.yaml there"
fi
if [[ -z "$direct_env" ]] && { $assume_yes || $force; }; then
  die "--yes and --force are only for --direct ENV"
fi

# The gate, before anything touches the cluster: a direct deploy is a manual
# sync without Argo CD, so the project's sync windows apply to it too.
if [[ -n "$direct_env" ]] && ! $dry_run; then
  python=$REPO_ROOT/.venv/bin/python
  [[ -x "$python" ]] || python=$(command -v python3) ||
    die "python3 is needed to read the sync windows in argocd/apps/project.yaml"
  set +e
  verdict=$("$python" "$REPO_ROOT/scripts/sync-window.py" \
    --project "$REPO_ROOT/argocd/apps/project.yaml" \
    "gold-platform-$direct_env" "gold-platform-$direct_env" 2>&1)
  gate=$?
  set -e
  case "$gate" in
    0) ;;
    1)
      $force || die "$direct_env: ${verdict#sync-window: gold-platform-"$direct_env": } (--force deploys anyway)"
      echo "deploy-k8s: --force: deploying $direct_env although ${verdict#sync-window: gold-platform-"$direct_env": }" >&2
      ;;
    *) die "cannot read the sync windows: ${verdict#sync-window: }" ;;
  esac
  if [[ "$direct_env" == prod ]] && ! $assume_yes; then
    [[ -t 0 ]] || die "--direct prod asks for confirmation and stdin is not a terminal: pass --yes"
    read -r -p "deploy-k8s: apply kustomize/overlays/prod to the cluster directly, without Argo CD? Type 'prod' to go on: " answer ||
      answer=""
    [[ "$answer" == prod ]] || die "not confirmed (typed '$answer', not 'prod'): nothing deployed"
  fi
fi

command -v kubectl >/dev/null 2>&1 ||
  die "kubectl not found in PATH; install kubectl (https://kubernetes.io/docs/tasks/tools/)"

if [[ -n "$context" ]]; then
  kubectl config get-contexts -o name 2>/dev/null | grep -qxF -- "$context" ||
    die "kube context '$context' not found in the kubeconfig (kubectl config get-contexts lists them)"
else
  context=$(kubectl config current-context 2>/dev/null) ||
    die "no current kube context; pass --context NAME or run 'kubectl config use-context NAME'"
  [[ -n "$context" ]] ||
    die "no current kube context; pass --context NAME or run 'kubectl config use-context NAME'"
fi

kc() { kubectl --context "$context" "$@"; }

kc --request-timeout=10s get --raw /readyz >/dev/null 2>&1 ||
  die "cannot reach the API server of context '$context' (kubectl get --raw /readyz failed)"

apply_flags=()
if $dry_run; then
  apply_flags+=(--dry-run=server)
  echo "deploy-k8s: dry run against context '$context': nothing will be changed"
fi

if [[ -z "$direct_env" ]]; then
  kc get crd applications.argoproj.io >/dev/null 2>&1 ||
    die "Argo CD is not installed in context '$context' (no applications.argoproj.io CRD); install it or use --direct ENV"
  kc get namespace "$ARGOCD_NAMESPACE" >/dev/null 2>&1 ||
    die "namespace '$ARGOCD_NAMESPACE' not found in context '$context'"
  kc apply "${apply_flags[@]}" -n "$ARGOCD_NAMESPACE" -f "$REPO_ROOT/argocd/bootstrap/" ||
    { echo "deploy-k8s: applying argocd/bootstrap failed" >&2; exit 1; }
  $dry_run && exit 0
  echo "deploy-k8s: root app applied; Argo CD now syncs argocd/apps."
  echo "  dev and staging sync automatically; prod: argocd app sync gold-platform-prod"
  exit 0
fi

# Direct mode: no Argo CD.
namespace="gold-platform-$direct_env"
overlay="${overlay:-$REPO_ROOT/kustomize/overlays/$direct_env}"
rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
if [[ -x "$REPO_ROOT/.tools/bin/kustomize" ]]; then
  "$REPO_ROOT/.tools/bin/kustomize" build "$overlay" >"$rendered" ||
    { echo "deploy-k8s: kustomize build $overlay failed" >&2; exit 1; }
else
  kubectl kustomize "$overlay" >"$rendered" ||
    { echo "deploy-k8s: kubectl kustomize $overlay failed" >&2; exit 1; }
fi

kc create namespace "$namespace" --dry-run=client -o yaml |
  kc label --local -f - -o yaml \
    pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/enforce-version=latest \
    "gold-platform.io/environment=$direct_env" |
  kc apply "${apply_flags[@]}" -f - >/dev/null ||
  { echo "deploy-k8s: cannot create namespace $namespace" >&2; exit 1; }

if $dry_run; then
  if ! kc get namespace "$namespace" >/dev/null 2>&1; then
    echo "deploy-k8s: namespace $namespace does not exist yet; a server-side dry run of its objects needs it" >&2
    exit 1
  fi
  kc apply --dry-run=server -f "$rendered" ||
    { echo "deploy-k8s: dry run of $direct_env failed" >&2; exit 1; }
  exit 0
fi

readonly WAIT_SECONDS=${DEPLOY_WAIT_SECONDS:-600}
fail() {
  echo "deploy-k8s: $*" >&2
  exit 1
}
# The same order as Argo CD's sync waves: everything but the backend and the
# migration first (secrets, config, policies, PostgreSQL, Redis).
kc apply -f "$rendered" -l 'app.kubernetes.io/component notin (api,migrate)' >/dev/null ||
  fail "kubectl apply (secrets, config, data stores) failed"
kc -n "$namespace" rollout status statefulset/postgres --timeout="${WAIT_SECONDS}s" ||
  fail "PostgreSQL did not become ready (kubectl -n $namespace describe pod postgres-0)"

# A Job's pod template is immutable: remove the previous migration run first.
kc -n "$namespace" delete job gold-platform-migrate --ignore-not-found --wait=true >/dev/null
kc apply -f "$rendered" -l app.kubernetes.io/component=migrate >/dev/null ||
  fail "kubectl apply of the migration Job failed"
# Complete or Failed, whichever comes first: a failed Job ends the deploy now.
job_state=""
deadline=$((SECONDS + WAIT_SECONDS))
while [[ $SECONDS -lt $deadline ]]; do
  job_state=$(kc -n "$namespace" get job gold-platform-migrate \
    -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}')
  case " $job_state " in
    *" Complete "*) break ;;
    *" Failed "*) fail "the migration Job failed (kubectl -n $namespace logs job/gold-platform-migrate)" ;;
  esac
  sleep 2
done
[[ " $job_state " == *" Complete "* ]] ||
  fail "the migration Job did not finish in ${WAIT_SECONDS}s (kubectl -n $namespace logs job/gold-platform-migrate)"

kc apply -f "$rendered" -l app.kubernetes.io/component=api >/dev/null ||
  fail "kubectl apply of the backend failed"
kc -n "$namespace" rollout status deployment/gold-platform --timeout="${WAIT_SECONDS}s" ||
  fail "the backend did not become ready (kubectl -n $namespace get pods)"
echo "deploy-k8s: $direct_env deployed to namespace $namespace (context $context)"
