#!/usr/bin/env bash
# Breaking changes of the OpenAPI document against its last released version.
#
#   scripts/api/breaking.sh --oasdiff BIN --python PY [--base REV] DOCUMENT
#
# The released version is the document at REV; without --base, REV is the
# latest tag v* reachable from HEAD (a release), else the merge-base with
# origin/main when that is not HEAD itself (a branch: what it changes), else
# HEAD~ (main, or a clone with no tags and no remote: the last commit's
# change). A clone with no earlier commit has nothing to compare: skipped.
# DOCUMENT is read from the work tree, so uncommitted changes count.
#
# Reviewed changes oasdiff calls breaking are accepted in breaking-ignore.txt
# (next to this script), one line each.
#
# Revisions from before the document was a file (http/openapi.py built it as
# a dict) are compared too: their document() is exported with PY.
set -euo pipefail

oasdiff='' python='' base=''
while [ $# -gt 1 ]; do
  case $1 in
    --oasdiff) oasdiff=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    *) break ;;
  esac
done
document=${1:?usage: breaking.sh --oasdiff BIN --python PY [--base REV] DOCUMENT}
: "${oasdiff:?--oasdiff is required}" "${python:?--python is required}"

if [ -z "$base" ]; then
  head=$(git rev-parse HEAD)
  if tag=$(git describe --tags --abbrev=0 --match 'v*' 2>/dev/null); then
    base=$tag why="the latest release tag"
  elif git rev-parse -q --verify origin/main >/dev/null \
    && merge_base=$(git merge-base HEAD origin/main) && [ "$merge_base" != "$head" ]; then
    base=$merge_base why="the merge-base with origin/main"
  elif git rev-parse -q --verify 'HEAD~' >/dev/null; then
    base=HEAD~ why="the previous commit (no v* tag, no origin/main to branch from)"
  else
    echo "api-breaking: no tag and no earlier commit to compare with: skipped"
    exit 0
  fi
else
  why="API_BASE"
fi
rev=$(git rev-parse --verify "$base^{commit}")
echo "api-breaking: $document against $base (${rev:0:12}, $why)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if git cat-file -e "$rev:$document" 2>/dev/null; then
  git show "$rev:$document" >"$tmp/base.yaml"
  released=$tmp/base.yaml
elif git cat-file -e "$rev:src/gold_platform/http/openapi.py" 2>/dev/null; then
  git archive "$rev" src | tar -x -C "$tmp"
  released=$tmp/base.json
  PYTHONPATH="$tmp/src" "$python" -c '
import json, sys
import gold_platform.http.openapi as o
assert o.__file__.startswith(sys.argv[1]), o.__file__
json.dump(o.document(), sys.stdout)' "$tmp/src" >"$released"
else
  echo "api-breaking: $base has no OpenAPI document: nothing to compare"
  exit 0
fi

ignore=$(dirname "$0")/breaking-ignore.txt
"$oasdiff" breaking --fail-on ERR --allow-external-refs=false --color never --err-ignore "$ignore" \
  "$released" "$document"
echo "api-breaking: no breaking change (ERR) against $base"
