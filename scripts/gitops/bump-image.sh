#!/usr/bin/env bash
# Point the dev overlay at a new image digest (the GitOps "bump").
#
# Usage: scripts/gitops/bump-image.sh [--name NAME] [--commit] [--push] [--source TEXT] IMAGE
#   IMAGE    sha256:<64 hex>                   keep the file's newName
#            REGISTRY/REPO@sha256:<64 hex>     also set newName
#   --name   the images entry to pin (default gold-platform, the service;
#            docker.io/library/postgres and docker.io/library/redis are the
#            third-party images the mirror workflow copies and signs)
#   --commit commit the change (only the dev version file), message ends
#            with [skip ci]
#   --push   push the commit to origin's current branch, rebasing and
#            retrying (3 tries) when the branch moved meanwhile
#   --source free text (e.g. the released git SHA) quoted in the commit body
#
# Runs in the git work tree containing $PWD. Rewrites only
# kustomize/overlays/dev/version/kustomization.yaml, keeping its form, then
# checks with the pinned kustomize that the dev overlay still builds and
# renders the new reference.
set -euo pipefail
# shellcheck source=scripts/gitops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

commit=false push=false source_text="" image="" name_given=false
while (($#)); do
  case "$1" in
    --name)
      [[ $# -ge 2 && -n "$2" ]] || usage_die "--name needs a value"
      ! $name_given || usage_die "--name given twice"
      GITOPS_IMAGE_NAME="$2" name_given=true
      shift
      ;;
    --commit) commit=true ;;
    --push) push=true commit=true ;;
    --source)
      [[ $# -ge 2 && -n "$2" ]] || usage_die "--source needs a value"
      source_text="$2"
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*) usage_die "unknown option '$1'" ;;
    *)
      [[ -z "$image" ]] || usage_die "unexpected argument '$1'"
      image="$1"
      ;;
  esac
  shift
done
[[ -n "$image" ]] || usage_die "missing IMAGE (sha256:<64 hex> or REPO@sha256:<64 hex>)"

digest_re='^sha256:[0-9a-f]{64}$'
repo_re='^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$'
new_name=""
if [[ "$image" == *@* ]]; then
  new_name="${image%@*}"
  digest="${image##*@}"
  [[ "$new_name" =~ $repo_re ]] || die "invalid image repository '$new_name' (lower-case REGISTRY/REPO, no tag)"
else
  digest="$image"
fi
[[ "$digest" =~ $digest_re ]] || die "invalid digest '$digest' (want sha256: and 64 lower-case hex digits)"

root="$(repo_root)"
cd "$root"
file="$(version_file dev)"
[[ -f "$file" ]] || die "dev version file not found: $file"
git diff --quiet HEAD -- "$file" 2>/dev/null ||
  die "$file has uncommitted changes; commit or discard them first"
kustomize_bin="$(find_kustomize)"

before="$(image_ref_of "$file")" || die "$file has no images entry named $GITOPS_IMAGE_NAME"
if [[ -z "$new_name" ]]; then
  # keep the repository the file already names (strip @digest or :tag; a
  # registry port has a '/' after its ':' so it is left alone)
  new_name="${before%@*}"
  [[ "${new_name##*/}" != *:* ]] || new_name="${new_name%:*}"
  [[ "$new_name" != "$GITOPS_IMAGE_NAME" ]] || die "$file has no newName for $GITOPS_IMAGE_NAME; pass REPO@sha256:..."
fi
target="$new_name@$digest"

if [[ "$before" == "$target" ]]; then
  log "dev already at $target; nothing to do"
  gh_output changed false
  gh_output image "$target"
  exit 0
fi

# Careful in-place rewrite that keeps the file's form (comments, order,
# indentation): inside the images item named gold-platform, the newTag: or
# digest: line becomes `digest: <new>` and newName: gets the repository.
# Missing keys are added with the item's indentation. The result is then
# checked by parsing it back and by building the dev overlay.
rewrite() {
  awk -v want="$GITOPS_IMAGE_NAME" -v repo="$new_name" -v digest="$digest" -v quotes="[\"']" '
    function key(line,   k) { k = line; sub(/^[ \t]*(-[ \t]+)?/, "", k); sub(/:.*/, "", k); return k }
    function val(line,   v) { v = line; sub(/^[^:]*:[ \t]*/, "", v); sub(/[ \t]+#.*$/, "", v); gsub(quotes, "", v); return v }
    function lead(line,   p) { p = line; match(p, /^[ \t]*(-[ \t]+)?/); return substr(p, 1, RLENGTH) }
    function setv(line, k,   p) { p = lead(line); return p k ": " }
    function flush(   i, k, ind, has_name, has_pin, last, out) {
      if (n == 0) return
      if (item_name == want) {
        ind = ""; has_name = 0; has_pin = 0; last = 1
        for (i = 1; i <= n; i++) {
          k = key(buf[i])
          if (i == 1) { ind = lead(buf[1]); gsub(/-/, " ", ind) }
          if (k == "newName") { buf[i] = setv(buf[i], "newName") repo; has_name = 1 }
          else if (k == "newTag" || k == "digest") {
            if (has_pin) { buf[i] = "\001"; continue }
            buf[i] = setv(buf[i], "digest") digest; has_pin = 1
          }
          if (buf[i] ~ /^[ \t]*(-[ \t]+)?[A-Za-z]+:/) last = i
        }
        for (i = 1; i <= n; i++) {
          if (buf[i] != "\001") print buf[i]
          if (i == last) {
            if (!has_name) print ind "newName: " repo
            if (!has_pin) print ind "digest: " digest
          }
        }
        done = 1
      } else {
        for (i = 1; i <= n; i++) print buf[i]
      }
      n = 0; item_name = ""
    }
    /^[ \t]*-[ \t]/ { flush(); in_item = 1; match($0, /^[ \t]*/); item_indent = RLENGTH }
    in_item && !/^[ \t]*-[ \t]/ && /[^ \t]/ && !/^[ \t]*#/ {
      match($0, /^[ \t]*/); if (RLENGTH <= item_indent) { flush(); in_item = 0 }
    }
    in_item { buf[++n] = $0; if (key($0) == "name") item_name = val($0); next }
    { print }
    END { flush(); if (!done) exit 3 }
  ' "$file" >"$file.tmp.$$" || {
    rm -f -- "$file.tmp.$$"
    die "$file: no images item named $GITOPS_IMAGE_NAME to rewrite"
  }
  cat -- "$file.tmp.$$" >"$file" # keep the file's mode and inode
  rm -f -- "$file.tmp.$$"
}
rewrite

after="$(image_ref_of "$file")" || die "$file lost its $GITOPS_IMAGE_NAME entry after the edit"
[[ "$after" == "$target" ]] || die "$file reads '$after' after the edit, expected '$target'"
grep -q '^kind: Component' "$file" || die "$file is no longer a kustomize Component after the edit"

rendered="$("$kustomize_bin" build kustomize/overlays/dev 2>&1)" ||
  die "dev overlay no longer builds: $(printf '%s' "$rendered" | head -n 1)"
grep -qF "image: $target" <<<"$rendered" ||
  die "dev overlay builds but does not render image $target"

log "dev: $before -> $target"
gh_output changed true
gh_output image "$target"

if $commit; then
  git add -- "$file"
  msg="gitops(dev): deploy ${GITOPS_IMAGE_NAME}@${digest:0:19} [skip ci]"
  body="Image: $target"
  [[ -z "$source_text" ]] || body+=$'\n'"Built from: $source_text"
  git commit --quiet -m "$msg" -m "$body" -- "$file"
  log "committed $(git rev-parse --short HEAD) on $(git rev-parse --abbrev-ref HEAD)"
fi

if $push; then
  branch="$(git rev-parse --abbrev-ref HEAD)"
  [[ "$branch" != HEAD ]] || die "detached HEAD: check out the branch to push first"
  for attempt in 1 2 3; do
    if git push --quiet origin "HEAD:refs/heads/$branch"; then
      log "pushed to origin/$branch (attempt $attempt)"
      exit 0
    fi
    log "push rejected (attempt $attempt); rebasing onto origin/$branch"
    git fetch --quiet origin "$branch"
    git rebase --quiet "origin/$branch" || {
      git rebase --abort || true
      die "rebase onto origin/$branch conflicted; someone else changed $file"
    }
  done
  die "could not push to origin/$branch after 3 attempts"
fi
