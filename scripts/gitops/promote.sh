#!/usr/bin/env bash
# Promote the image version of the previous environment into ENV.
#
# Usage: scripts/gitops/promote.sh [--commit] ENV
#   ENV       staging (copies from dev) or prod (copies from staging)
#   --commit  commit the change (only ENV's version file); prod needs it
#
# Promotion copies kustomize/overlays/<previous>/version/kustomization.yaml
# over kustomize/overlays/<ENV>/version/kustomization.yaml, byte for byte,
# and touches nothing else. Refuses to run on a dirty work tree so that a
# promotion commit or PR never carries unrelated edits, and refuses a file
# with any image pinned by tag instead of digest. Exit 0 with
# "nothing to promote" when both files are already identical.
#
# prod runs the commit its Application pins (argocd/apps/prod.yaml,
# targetRevision), not the tip of main, so for prod a second commit pins it
# to the commit holding the promoted overlay: the version file's commit, or
# HEAD when only the manifests changed (base, components, prod's overlay).
# "Nothing to promote" for prod: same version, and prod renders the same at
# its pinned commit as at HEAD.
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
[[ "$env" != prod ]] || $commit || usage_die "prod is promoted with --commit: its pin names the promotion commit"

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
# Staging and prod run images by digest only (their admission policies
# refuse a tag): a tag is caught here, before it reaches their branch.
unpinned="$(images_without_digest "$src" | paste -sd, -)"
[[ -z "$unpinned" ]] || die "$from pins $unpinned by tag, not digest; $env takes digests only (bump-image.sh --name NAME REPO@sha256:...)"
old="$(image_ref_of "$dst" || echo '(none)')"

gh_output from "$from"
gh_output image "$ref"
[[ "$env" != prod ]] || pinned="$(pinned_revision)"
if cmp -s "$src" "$dst"; then
  if [[ "$env" != prod ]] || renders_same prod "$pinned" HEAD; then
    log "$env already matches $from ($ref); nothing to promote"
    gh_output changed false
    exit 0
  fi
  log "prod's version file already names $ref, but its manifests changed since the pinned ${pinned:0:12}"
else
  cp -- "$src" "$dst"
  log "$env: $old -> $ref (copied from $from)"
  if $commit; then
    git add -- "$dst"
    git commit --quiet -m "gitops($env): promote ${ref##*/} from $from" \
      -m "Copies $src to $dst (was: $old)." -- "$dst"
    log "committed $(git rev-parse --short HEAD)"
  fi
fi
gh_output changed true

if [[ "$env" == prod ]]; then
  promoted="$(git rev-parse HEAD)"
  pin_prod_revision "$promoted"
  git add -- "$PROD_APPLICATION"
  git commit --quiet -m "gitops(prod): deploy ${promoted:0:12}" \
    -m "prod's Application now runs the manifests of $promoted (was: $pinned); a person syncs it." \
    -- "$PROD_APPLICATION"
  log "pinned prod to ${promoted:0:12} (was ${pinned:0:12}); committed $(git rev-parse --short HEAD)"
  gh_output pinned "$promoted"
  gh_output previous_pin "$pinned"
fi
