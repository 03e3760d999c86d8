#!/usr/bin/env bash
# Open (or refresh) the promotion pull request for ENV; close stale ones.
#
# Usage: scripts/gitops/promotion-pr.sh ENV        (ENV: staging or prod)
#
# Runs in CI (.github/workflows/promote.yml) on a clean checkout of the base
# branch (PROMOTE_BASE, default main) with its full history and `gh`
# authenticated by GH_TOKEN:
#   1. promote.sh --commit ENV on branch promote/ENV/<digest-or-tag> (for
#      prod: the version commit, then the commit pinning prod's Application
#      to it, so the PR itself carries what prod will run)
#   2. force-push that branch (it is generated, nobody else commits to it)
#   3. PR body = rendered diff of what ENV gets: staging, base..branch;
#      prod, its pinned commit..branch (everything that reaches prod, base
#      and component changes included); create the PR or update the open
#      one for the same branch
#   4. close every other open promote/ENV/* PR as superseded
# When there is nothing to promote it only closes the open promotion PRs of
# ENV (they are stale by definition) and exits 0.
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
ref="$(image_ref_of "$(version_file "$from")")" || die "$(version_file "$from") has no images entry named $GITOPS_IMAGE_NAME"
version="${ref##*@sha256:}"
if [[ "$version" == "$ref" ]]; then version="${ref##*:}"; else version="${version:0:12}"; fi
version="$(tr -c 'A-Za-z0-9._-' '-' <<<"$version" | sed 's/-*$//')"
branch="$prefix$version"
[[ "$env" != prod ]] || running="$(pinned_revision)"

git switch --quiet -C "$branch"
"$here/promote.sh" --commit "$env"
if [[ "$(git rev-parse HEAD)" == "$base_sha" ]]; then
  git switch --quiet "$base_branch"
  git branch --quiet -D "$branch"
  stale="$(open_promotion_prs "")" || die "could not list open pull requests"
  for n in $stale; do
    gh pr close "$n" --delete-branch --comment "Closed: $env already runs \`$ref\`, the same version as $from."
    log "closed stale PR #$n"
  done
  gh_output pr ""
  exit 0
fi
git push --quiet --force origin "HEAD:refs/heads/$branch"

body="$(mktemp)"
trap 'rm -f -- "$body" "$body.diff"' EXIT
# shellcheck disable=SC2016 # backticks are markdown
if [[ "$env" == prod ]]; then
  "$here/diff-overlays.sh" --target prod --markdown "$body.diff" --max-chars 50000 "$running" HEAD >/dev/null
  {
    printf 'Pins **prod** (`%s`) to `%s`: image `%s` (staging'"'"'s version) with the manifests of that commit.\n\n' \
      "$PROD_APPLICATION" "$(git rev-parse HEAD~1)" "$ref"
    printf 'prod runs `%s` until then. The diff below is everything prod gets, base and component changes included: its rendered manifests at `%s` and at this branch. Merge with a merge commit (the pinned commit must stay on main), then a person syncs prod outside the freeze window. Older promotion PRs for prod are closed automatically.\n\n' \
      "${running:0:12}" "${running:0:12}"
    cat "$body.diff"
  } >"$body"
else
  "$here/diff-overlays.sh" --markdown "$body.diff" --max-chars 50000 "$base_sha" HEAD >/dev/null
  {
    printf 'Promotes `%s` to **%s** by copying `%s` to `%s` (nothing else changes).\n\n' \
      "$ref" "$env" "$(version_file "$from")" "$(version_file "$env")"
    printf 'Opened by the promote workflow; merging it lets Argo CD sync %s. Older promotion PRs for %s are closed automatically.\n\n' "$env" "$env"
    cat "$body.diff"
  } >"$body"
fi

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
