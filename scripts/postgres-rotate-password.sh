#!/usr/bin/env bash
# Make an environment's database and backend use the password now in its
# Secret (gold-platform-secrets), after the secret store (staging, prod) or
# the dev overlay has been given a new one.
#
#   scripts/postgres-rotate-password.sh ENV [--context NAME] [--yes]
#
# Checks that the Secret is consistent (DATABASE_URL carries POSTGRES_PASSWORD),
# restarts PostgreSQL (its start hook sets the role's password to the Secret's;
# writes pause while it restarts, typically seconds), then restarts the
# backend so every pod connects with the new password, and waits for both.
# See docs/database.md ("Rotating the database password").
#
#   --context NAME  kube context to use (default: the current context)
#   --yes           do not ask; without it, type the environment's name to go on
#
# Exit status: 0 rotated, 1 a restart failed, 2 bad usage, missing prerequisite
# or an inconsistent Secret.
set -euo pipefail

die() {
  echo "postgres-rotate-password: $*" >&2
  exit 2
}
fail() {
  echo "postgres-rotate-password: $*" >&2
  exit 1
}
usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

env_name=""
context=""
assume_yes=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --context)
      [[ $# -ge 2 && -n "$2" ]] || die "--context needs a context name"
      context=$2
      shift
      ;;
    --yes) assume_yes=true ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *)
      [[ -z "$env_name" ]] || die "one environment only (got '$env_name' and '$1')"
      env_name=$1
      ;;
  esac
  shift
done
case "$env_name" in
  dev | staging | prod) ;;
  "") die "which environment? scripts/postgres-rotate-password.sh dev|staging|prod (see --help)" ;;
  *) die "unknown environment '$env_name': use dev, staging or prod" ;;
esac
for tool in kubectl jq; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found in PATH"
done

namespace="gold-platform-$env_name"
kc() { kubectl ${context:+--context "$context"} -n "$namespace" "$@"; }

# The Secret the StatefulSet reads (in dev its name carries a content hash).
secret=$(kc get statefulset postgres -o json |
  jq -r '.spec.template.spec.containers[0].env[] | select(.name == "POSTGRES_PASSWORD") | .valueFrom.secretKeyRef.name') ||
  die "no StatefulSet postgres in namespace $namespace"
kc get secret "$secret" -o json | jq -e '
    (.data.POSTGRES_PASSWORD | @base64d) as $password
    | (.data.DATABASE_URL | @base64d) | contains(":" + ($password | @uri) + "@")' >/dev/null ||
  die "Secret $secret: DATABASE_URL does not carry POSTGRES_PASSWORD; fix the Secret first (nothing changed)"

if ! $assume_yes; then
  [[ -t 0 ]] || die "not a terminal: pass --yes to rotate without asking"
  printf 'This restarts PostgreSQL and the backend of %s.\nType the environment name to go on: ' "$env_name" >&2
  read -r answer
  [[ "$answer" == "$env_name" ]] || die "not confirmed; nothing changed"
fi

readonly WAIT_SECONDS=${ROTATE_WAIT_SECONDS:-600}
started=$SECONDS
kc rollout restart statefulset/postgres >/dev/null
kc rollout status statefulset/postgres --timeout="${WAIT_SECONDS}s" >/dev/null ||
  fail "PostgreSQL did not come back (kubectl -n $namespace describe pod postgres-0)"
kc rollout restart deployment/gold-platform >/dev/null
kc rollout status deployment/gold-platform --timeout="${WAIT_SECONDS}s" >/dev/null ||
  fail "the backend did not become ready with the new password (kubectl -n $namespace get pods)"
echo "postgres-rotate-password: $env_name uses the new password ($((SECONDS - started))s)"
