#!/usr/bin/env bash
# Open (or refresh) the promotion pull request for ENV; close stale ones.
#
# Usage: scripts/gitops/promotion-pr.sh ENV        (ENV: staging or prod)
#
# Runs in CI (.github/workflows/promote.yml) on a clean checkout of the base
# branch (PROMOTE_BASE, default main) with `gh` authenticated by GH_TOKEN:
#   1. promote.sh --commit ENV on branch promote/ENV/<digest-or-tag>
#   2. force-push that branch (it is generated, nobody else commits to it)
#   3. PR body = rendered diff (diff-overlays.sh base..branch); create the PR
#      or update the open one for the same branch
#   4. close every other open promote/ENV/* PR as superseded
# When ENV already matches the previous environment it only closes the open
# promotion PRs of ENV (they are stale by definition) and exits 0.
set -euo pipefail
# shellcheck source=scripts/gitops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

env="" base_branch="${PROMOTE_BASE:-main}"
while (($#)); do
  case "$1" in
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*) usage_die "unknown option '$1'" ;;
    *)
      [[ -z "$env" ]] || usage_die "unexpected argument '$1'"
      env="$1"
      ;;
  esac
  shift
done
require_env "$env"
from="$(previous_env "$env")" || usage_die "cannot promote into '$env': it is the first environment"
[[ "$base_branch" =~ ^[A-Za-z0-9._/-]+$ ]] || die "invalid PROMOTE_BASE '$base_branch'"
command -v gh >/dev/null 2>&1 || die "gh (GitHub CLI) not found"
[[ -n "${GH_TOKEN:-${GITHUB_TOKEN:-}}" ]] || die "GH_TOKEN is not set (gh needs a token that may push and open PRs)"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(repo_root)"
cd "$root"
[[ "$(git rev-parse --abbrev-ref HEAD)" == "$base_branch" ]] ||
  die "check out $base_branch first (on $(git rev-parse --abbrev-ref HEAD))"
prefix="promote/$env/"

# Open promotion PRs of ENV other than $1 (branch name), one number a line.
open_promotion_prs() {
  gh pr list --state open --base "$base_branch" --limit 100 \
    --json number,headRefName \
    --jq ".[] | select(.headRefName | startswith(\"$prefix\")) | select(.headRefName != \"$1\") | .number"
}

base_sha="$(git rev-parse HEAD)"
"$here/promote.sh" "$env"
if git diff --quiet; then
  ref="$(image_ref_of "$(version_file "$env")")"
  stale="$(open_promotion_prs "")" || die "could not list open pull requests"
  for n in $stale; do
    gh pr close "$n" --delete-branch --comment "Closed: $env already runs \`$ref\`, the same version as $from."
    log "closed stale PR #$n"
  done
  gh_output pr ""
  exit 0
fi
git checkout --quiet -- "$(version_file "$env")"

ref="$(image_ref_of "$(version_file "$from")")"
pin="${ref##*@sha256:}"
if [[ "$pin" == "$ref" ]]; then pin="${ref##*:}"; else pin="${pin:0:12}"; fi
pin="$(tr -c 'A-Za-z0-9._-' '-' <<<"$pin" | sed 's/-*$//')"
branch="$prefix$pin"

git switch --quiet -C "$branch"
"$here/promote.sh" --commit "$env"
git push --quiet --force origin "HEAD:refs/heads/$branch"

body="$(mktemp)"
trap 'rm -f -- "$body" "$body.diff"' EXIT
"$here/diff-overlays.sh" --markdown "$body.diff" --max-chars 50000 "$base_sha" HEAD >/dev/null
# shellcheck disable=SC2016 # backticks are markdown
{
  printf 'Promotes `%s` to **%s** by copying `%s` to `%s` (nothing else changes).\n\n' \
    "$ref" "$env" "$(version_file "$from")" "$(version_file "$env")"
  printf 'Opened by the promote workflow; merging it lets Argo CD sync %s. Older promotion PRs for %s are closed automatically.\n\n' "$env" "$env"
  cat "$body.diff"
} >"$body"

title="Promote gold-platform to $env: ${ref##*/}"
existing="$(gh pr list --state open --base "$base_branch" --head "$branch" --json number --jq '.[0].number // empty')" ||
  die "could not list open pull requests"
if [[ -n "$existing" ]]; then
  gh pr edit "$existing" --title "$title" --body-file "$body" >/dev/null
  number="$existing"
  log "updated PR #$number ($branch)"
else
  url="$(gh pr create --base "$base_branch" --head "$branch" --title "$title" --body-file "$body")"
  number="${url##*/}"
  log "opened PR #$number ($branch): $url"
fi
stale="$(open_promotion_prs "$branch")" || die "could not list open pull requests"
for n in $stale; do
  gh pr close "$n" --delete-branch --comment "Superseded by #$number."
  log "closed stale PR #$n"
done
gh_output pr "$number"
