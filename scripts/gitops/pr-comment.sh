#!/usr/bin/env bash
# Create or update THE manifests-diff comment of a pull request.
#
# Usage: scripts/gitops/pr-comment.sh --repo OWNER/NAME --head-sha SHA
#                                     [--pr N] BODY_FILE
#   --head-sha  the PR head commit, from trusted event data
#               (github.event.workflow_run.head_sha)
#   --pr N      candidate PR number (e.g. from the untrusted artifact): used
#               only when that PR is open and its head is --head-sha;
#               otherwise the PR is looked up from the commit
#   BODY_FILE   markdown starting with the hidden marker line written by
#               diff-overlays.sh; cut to 65000 characters if larger
#
# The comment is found by the marker among comments of the token's own user
# (github-actions[bot] unless COMMENT_AUTHOR says otherwise), so one
# comment per PR is edited in place on every push.
set -euo pipefail
# shellcheck source=scripts/gitops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MARKER='<!-- gold-platform:manifests-diff -->'
author="${COMMENT_AUTHOR:-github-actions[bot]}"
repo="" sha="" pr="" file=""
while (($#)); do
  case "$1" in
    --repo | --head-sha | --pr)
      [[ $# -ge 2 && -n "$2" ]] || usage_die "$1 needs a value"
      case "$1" in
        --repo) repo="$2" ;;
        --head-sha) sha="$2" ;;
        --pr) pr="$2" ;;
      esac
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*) usage_die "unknown option '$1'" ;;
    *)
      [[ -z "$file" ]] || usage_die "unexpected argument '$1'"
      file="$1"
      ;;
  esac
  shift
done
[[ "$repo" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || usage_die "--repo OWNER/NAME is required"
[[ "$sha" =~ ^[0-9a-f]{40}$ ]] || usage_die "--head-sha needs a full 40-hex commit SHA"
[[ -z "$pr" || "$pr" =~ ^[1-9][0-9]{0,9}$ ]] || die "invalid PR number '$pr'"
[[ -n "$file" ]] || usage_die "missing BODY_FILE"
[[ -f "$file" ]] || die "body file not found: $file"
[[ "$(head -n 1 -- "$file")" == "$MARKER" ]] || die "$file does not start with the manifests-diff marker"
command -v gh >/dev/null 2>&1 || die "gh (GitHub CLI) not found"
command -v jq >/dev/null 2>&1 || die "jq not found"

pr_head() { gh api "repos/$repo/pulls/$1" --jq 'select(.state == "open") | .head.sha' 2>/dev/null || true; }

if [[ -n "$pr" && "$(pr_head "$pr")" != "$sha" ]]; then
  log "PR #$pr is not open at $sha; looking the PR up from the commit"
  pr=""
fi
if [[ -z "$pr" ]]; then
  candidates="$(gh api "repos/$repo/commits/$sha/pulls" --jq '.[] | select(.state == "open") | .number')" ||
    die "could not list the pull requests of commit $sha"
  for n in $candidates; do
    if [[ "$(pr_head "$n")" == "$sha" ]]; then
      pr="$n"
      break
    fi
  done
fi
if [[ -z "$pr" ]]; then
  log "no open pull request has head $sha (pushed again or closed meanwhile); nothing to comment"
  exit 0
fi

limit=65000
payload="$(mktemp)"
trap 'rm -f -- "$payload"' EXIT
jq -Rs --argjson limit "$limit" \
  'if length > $limit then .[0:$limit] + "\n\n:warning: Comment cut to fit GitHub'"'"'s size limit.\n" else . end | {body: .}' \
  -- "$file" >"$payload"

ids="$(gh api --paginate "repos/$repo/issues/$pr/comments" \
  --jq ".[] | select(.user.login == \"$author\") | select(.body | startswith(\"$MARKER\")) | .id")" ||
  die "could not list the comments of PR #$pr"
id="${ids%%$'\n'*}"
if [[ -n "$id" ]]; then
  gh api --method PATCH "repos/$repo/issues/comments/$id" --input "$payload" >/dev/null
  log "updated comment $id on PR #$pr"
else
  gh api --method POST "repos/$repo/issues/$pr/comments" --input "$payload" >/dev/null
  log "created the comment on PR #$pr"
fi
