#!/usr/bin/env bash
# Promote the image version of the previous environment into ENV.
#
# Usage: scripts/gitops/promote.sh [--commit] ENV
#   ENV       staging (copies from dev) or prod (copies from staging)
#   --commit  commit the change (only ENV's version file)
#
# Promotion copies kustomize/overlays/<previous>/version/kustomization.yaml
# over kustomize/overlays/<ENV>/version/kustomization.yaml, byte for byte,
# and touches nothing else. Refuses to run on a dirty work tree so that a
# promotion commit or PR never carries unrelated edits. Exit 0 with
# "nothing to promote" when both files are already identical.
set -euo pipefail
# shellcheck source=scripts/gitops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

commit=false env=""
while (($#)); do
  case "$1" in
    --commit) commit=true ;;
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
from="$(previous_env "$env")" || usage_die "cannot promote into '$env': it is the first environment (bump it with bump-image.sh)"

root="$(repo_root)"
cd "$root"
src="$(version_file "$from")"
dst="$(version_file "$env")"
[[ -f "$src" ]] || die "$from version file not found: $src"
[[ -f "$dst" ]] || die "$env version file not found: $dst"
if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
  die "work tree has uncommitted changes; promote from a clean checkout"
fi
ref="$(image_ref_of "$src")" || die "$src has no images entry named $GITOPS_IMAGE_NAME"
old="$(image_ref_of "$dst" || echo '(none)')"

gh_output from "$from"
gh_output image "$ref"
if cmp -s "$src" "$dst"; then
  log "$env already matches $from ($ref); nothing to promote"
  gh_output changed false
  exit 0
fi

cp -- "$src" "$dst"
log "$env: $old -> $ref (copied from $from)"
gh_output changed true

if $commit; then
  git add -- "$dst"
  git commit --quiet -m "gitops($env): promote ${ref##*/} from $from" \
    -m "Copies $src to $dst (was: $old)." -- "$dst"
  log "committed $(git rev-parse --short HEAD)"
fi
