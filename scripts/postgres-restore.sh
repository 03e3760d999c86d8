#!/usr/bin/env bash
# Restore an environment's PostgreSQL from one of its backups.
#
#   scripts/postgres-restore.sh ENV [--backup NAME] [--context NAME] [--yes]
#
# ENV is dev, staging or prod (namespace gold-platform-ENV). Stops the
# backend (scales it to 0 and waits for its pods to go), runs the restore in
# a Job made from the postgres-backup CronJob (same image, volume, secret and
# network policy; restore.sh as its command) that replaces the database with
# backup NAME (default: the newest), then scales the backend back and waits
# for it to be ready. See docs/database.md ("Restore") for the whole runbook.
#
#   --backup NAME   a backup file name, gold-<UTC time>.dump (default: newest)
#   --context NAME  kube context to use (default: the current context)
#   --yes           do not ask; without it, type the environment's name to go on
#
# Under Argo CD, pause the Application's automated sync first: self-heal
# would scale the backend up again in the middle of the restore.
#
# Exit status: 0 restored, 1 the restore failed, 2 bad usage or missing prerequisite.
set -euo pipefail

die() {
  echo "postgres-restore: $*" >&2
  exit 2
}
fail() {
  echo "postgres-restore: $*" >&2
  exit 1
}
usage() { sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

env_name=""
backup=""
context=""
assume_yes=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --backup)
      [[ $# -ge 2 && -n "$2" ]] || die "--backup needs a backup name (gold-<UTC time>.dump)"
      backup=$2
      shift
      ;;
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
  "") die "which environment? scripts/postgres-restore.sh dev|staging|prod (see --help)" ;;
  *) die "unknown environment '$env_name': use dev, staging or prod" ;;
esac
[[ -z "$backup" || "$backup" == gold-*.dump ]] || die "--backup $backup: not a backup name (gold-<UTC time>.dump)"
for tool in kubectl jq; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found in PATH"
done

namespace="gold-platform-$env_name"
kc() { kubectl ${context:+--context "$context"} -n "$namespace" "$@"; }
kc get cronjob postgres-backup >/dev/null 2>&1 ||
  die "no CronJob postgres-backup in namespace $namespace (is the postgres-backup component deployed?)"

if ! $assume_yes; then
  [[ -t 0 ]] || die "not a terminal: pass --yes to restore without asking"
  printf 'This REPLACES the database of %s with backup %s.\nType the environment name to go on: ' \
    "$env_name" "${backup:-<the newest>}" >&2
  read -r answer
  [[ "$answer" == "$env_name" ]] || die "not confirmed; nothing changed"
fi

readonly WAIT_SECONDS=${RESTORE_WAIT_SECONDS:-1800}
readonly API_SELECTOR=app.kubernetes.io/name=gold-platform,app.kubernetes.io/component=api
started=$SECONDS
replicas=$(kc get deployment gold-platform -o jsonpath='{.spec.replicas}')
[[ "$replicas" -gt 0 ]] || replicas=1
scale_back() { kc scale deployment gold-platform --replicas="$replicas" >/dev/null || true; }
trap scale_back EXIT

echo "postgres-restore: stopping the backend of $env_name ($replicas pod(s))"
kc scale deployment gold-platform --replicas=0 >/dev/null
kc wait --for=delete pod -l "$API_SELECTOR" --timeout="${WAIT_SECONDS}s" >/dev/null ||
  fail "the backend's pods did not stop in ${WAIT_SECONDS}s"

# From here on, a failure leaves the backend stopped: serving a database
# whose restore failed could show customers wrong balances.
trap - EXIT
job="postgres-restore-$(date -u +%Y%m%d%H%M%S)"
kc create job "$job" --from=cronjob/postgres-backup --dry-run=client -o json |
  jq --arg backup "$backup" '
    .spec.backoffLimit = 0
    | .spec.template.spec.containers[0].command = ["/bin/sh", "/scripts/restore.sh"]
    | .spec.template.spec.containers[0].args = (if $backup == "" then [] else [$backup] end)' |
  kc create -f - >/dev/null || fail "cannot create the restore Job"
echo "postgres-restore: restoring in Job $job"
state=""
deadline=$((SECONDS + WAIT_SECONDS))
while [[ $SECONDS -lt $deadline ]]; do
  state=$(kc get job "$job" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}')
  [[ " $state " == *" Complete "* || " $state " == *" Failed "* ]] && break
  sleep 2
done
kc logs "job/$job" || true
[[ " $state " == *" Complete "* ]] ||
  fail "the restore Job $job did not complete (${state:-still running}); the backend stays stopped (kubectl -n $namespace logs job/$job; scale it back with kubectl -n $namespace scale deployment gold-platform --replicas=$replicas)"

scale_back
kc rollout status deployment/gold-platform --timeout="${WAIT_SECONDS}s" >/dev/null ||
  fail "restored, but the backend did not become ready (kubectl -n $namespace get pods)"
echo "postgres-restore: $env_name restored and serving again in $((SECONDS - started))s"
