# shellcheck shell=bash
# Shared helpers for the GitOps scripts in this folder. Sourced, not executed.
#
# Layout contract (owned by the manifests engineer, relied on here):
#   kustomize/overlays/<env>/version/kustomization.yaml
# is a kustomize Component holding only the `images:` entry of the image
# named `gold-platform` (newName + newTag or digest). It is the ONE file that
# differs between environments when an image moves.

GITOPS_ENVS=(dev staging prod)
GITOPS_IMAGE_NAME=gold-platform
GITOPS_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The repository holding these scripts (where `make tools` puts .tools/bin).
GITOPS_TOOLS_ROOT="$(cd "$GITOPS_LIB_DIR/../.." && pwd)"
# make exports KUSTOMIZE relative to the directory it runs in; pin it to an
# absolute path now, before the scripts cd to the work tree they operate on.
if [[ -n "${KUSTOMIZE:-}" && "$KUSTOMIZE" != /* ]]; then
  KUSTOMIZE="$PWD/$KUSTOMIZE"
fi

die() {
  printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2
  exit 1
}

usage_die() {
  printf '%s: error: %s (see --help)\n' "$(basename "$0")" "$*" >&2
  exit 2
}

log() {
  printf '%s: %s\n' "$(basename "$0")" "$*" >&2
}

# The git work tree the scripts operate on: the one containing $PWD.
repo_root() {
  git rev-parse --show-toplevel 2>/dev/null || die "not inside a git work tree: $PWD"
}

is_env() {
  local e
  for e in "${GITOPS_ENVS[@]}"; do
    [[ "$1" == "$e" ]] && return 0
  done
  return 1
}

require_env() {
  [[ -n "${1:-}" ]] || usage_die "missing environment (one of: ${GITOPS_ENVS[*]})"
  is_env "$1" || usage_die "unknown environment '$1' (one of: ${GITOPS_ENVS[*]})"
}

previous_env() {
  case "$1" in
    staging) echo dev ;;
    prod) echo staging ;;
    *) return 1 ;;
  esac
}

version_file() {
  printf 'kustomize/overlays/%s/version/kustomization.yaml' "$1"
}

# prod runs a reviewed commit, not the tip of main: its Application's
# targetRevision names the commit that holds the promoted overlay, and only
# promote.sh --commit prod moves it (see docs/delivery.md).
PROD_APPLICATION=argocd/apps/prod.yaml

# The full commit SHA prod's Application is pinned to.
pinned_revision() {
  local rev
  rev="$(awk '$1 == "targetRevision:" { gsub(/["\047]/, "", $2); print $2 }' "$PROD_APPLICATION")"
  [[ "$rev" =~ ^[0-9a-f]{40}$ ]] || die "$PROD_APPLICATION: targetRevision '$rev' is not a full commit SHA"
  git cat-file -e "$rev^{commit}" 2>/dev/null ||
    die "$PROD_APPLICATION: pinned commit $rev is not in this clone (fetch the full history)"
  printf '%s' "$rev"
}

# Point prod's Application at commit $1 (its one targetRevision line).
pin_prod_revision() {
  [[ "$(grep -c '^[[:space:]]*targetRevision:' "$PROD_APPLICATION")" == 1 ]] ||
    die "$PROD_APPLICATION must have exactly one targetRevision line"
  sed -i "s/^\([[:space:]]*targetRevision:[[:space:]]*\)[^[:space:]#]*/\1$1/" "$PROD_APPLICATION"
}

# Copy kustomize/ and argocd/ of revision $1 (empty: the work tree) to $2.
extract_manifests() {
  local rev="$1" dest="$2" paths=() p
  for p in kustomize argocd; do
    if [[ -z "$rev" ]]; then
      [[ -e "$p" ]] && paths+=("$p")
    else
      git cat-file -e "$rev:$p" 2>/dev/null && paths+=("$p")
    fi
  done
  ((${#paths[@]})) || return 0
  if [[ -z "$rev" ]]; then
    tar -cf - -- "${paths[@]}" | tar -xf - -C "$dest"
  else
    git archive --format=tar "$rev" -- "${paths[@]}" | tar -xf - -C "$dest"
  fi
}

# Whether overlay $1 renders the same at revisions $2 and $3.
renders_same() {
  local env="$1" tmp kustomize_bin same=false
  kustomize_bin="$(find_kustomize)"
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/renders-same.XXXXXX")"
  mkdir -p "$tmp/a" "$tmp/b"
  extract_manifests "$2" "$tmp/a"
  extract_manifests "$3" "$tmp/b"
  if "$kustomize_bin" build "$tmp/a/kustomize/overlays/$env" >"$tmp/a.yaml" 2>/dev/null &&
    "$kustomize_bin" build "$tmp/b/kustomize/overlays/$env" >"$tmp/b.yaml" 2>/dev/null &&
    cmp -s "$tmp/a.yaml" "$tmp/b.yaml"; then
    same=true
  fi
  rm -rf -- "$tmp"
  $same
}

# Locate the pinned kustomize: $KUSTOMIZE, then .tools/bin of this checkout,
# then PATH. The pinned one comes from `make tools`.
find_kustomize() {
  if [[ -n "${KUSTOMIZE:-}" ]]; then
    [[ -x "$KUSTOMIZE" ]] || die "KUSTOMIZE=$KUSTOMIZE is not an executable; run 'make tools'"
    printf '%s' "$KUSTOMIZE"
  elif [[ -x "$GITOPS_TOOLS_ROOT/.tools/bin/kustomize" ]]; then
    printf '%s' "$GITOPS_TOOLS_ROOT/.tools/bin/kustomize"
  elif command -v kustomize >/dev/null 2>&1; then
    command -v kustomize
  else
    die "kustomize not found (looked at \$KUSTOMIZE, $GITOPS_TOOLS_ROOT/.tools/bin, PATH); run 'make tools'"
  fi
}

# Print the image reference a version file selects, e.g.
#   ghcr.io/gold-platform/gold-platform@sha256:...   or   ...:0.1.0
# Reads only the gold-platform entry; plain YAML of the fixed shape.
image_ref_of() {
  awk -v want="$GITOPS_IMAGE_NAME" -v quotes="[\"']" '
    function val(line) { sub(/^[^:]*:[ \t]*/, "", line); sub(/[ \t]+#.*$/, "", line); gsub(quotes, "", line); return line }
    function flush() { if (name == want) { printf "%s%s\n", (newname != "" ? newname : name), (digest != "" ? "@" digest : (tag != "" ? ":" tag : "")); found = 1 } name = newname = tag = digest = "" }
    /^[ \t]*-[ \t]/ { flush(); sub(/-[ \t]*/, "") }
    /^[ \t]*name:/    { name = val($0) }
    /^[ \t]*newName:/ { newname = val($0) }
    /^[ \t]*newTag:/  { tag = val($0) }
    /^[ \t]*digest:/  { digest = val($0) }
    END { flush(); if (!found) exit 1 }
  ' "$1"
}

# Print the name of each images entry of a version file that is not pinned
# by digest (newTag only, or neither).
images_without_digest() {
  awk '
    function flush() { if (name != "" && !digest) print name; name = ""; digest = 0 }
    /^[ \t]*-[ \t]/ { flush(); sub(/-[ \t]*/, "") }
    /^[ \t]*name:/   { name = $0; sub(/^[^:]*:[ \t]*/, "", name); sub(/[ \t]+#.*$/, "", name) }
    /^[ \t]*digest:/ { digest = 1 }
    END { flush() }
  ' "$1"
}

# Write key=value to the GitHub Actions step outputs when running there.
gh_output() {
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}
