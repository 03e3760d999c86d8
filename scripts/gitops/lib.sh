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

# Write key=value to the GitHub Actions step outputs when running there.
gh_output() {
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}
