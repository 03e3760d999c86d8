#!/usr/bin/env bash
# kube-score and checkov over rendered manifests (the `make manifests-score`
# step; tests/manifests runs it on manifests with a fault injected).
#
#   score.sh FILE...    each FILE is one rendered overlay (kustomize build output)
#
# Settings from the environment (make exports them): KUBE_SCORE, CHECKOV
# (binaries), KUBE_SCORE_IGNORE and CHECKOV_CONFIG (the commented ignore
# lists in scripts/manifests/). Prints only what fails; exit 1 on a finding.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBE_SCORE="${KUBE_SCORE:-$HERE/../../.tools/bin/kube-score}"
CHECKOV="${CHECKOV:-$HERE/../../.tools/checkov-venv/bin/checkov}"
KUBE_SCORE_IGNORE="${KUBE_SCORE_IGNORE:-$HERE/kube-score-ignore.txt}"
CHECKOV_CONFIG="${CHECKOV_CONFIG:-$HERE/checkov.yaml}"

[ "$#" -gt 0 ] || { echo "usage: score.sh RENDERED.yaml..." >&2; exit 2; }
for tool in "$KUBE_SCORE" "$CHECKOV"; do
    [ -x "$tool" ] || { echo "score: $tool is missing; run 'make tools'" >&2; exit 2; }
done

ignored=()
while read -r check _; do
    ignored+=(--ignore-test "$check")
done < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$KUBE_SCORE_IGNORE")

status=0
for file in "$@"; do
    # Warnings fail too: what is accepted is in the ignore list, with its reason.
    if report=$("$KUBE_SCORE" score --output-format ci --exit-one-on-warning "${ignored[@]}" "$file"); then
        echo "kube-score $file: OK"
    else
        echo "kube-score $file: FAILED"
        grep -vE '^\[(OK|SKIPPED)\]' <<< "$report" | sed 's/^/  /'
        status=1
    fi
    # --skip-download: offline, no policy updates fetched from the platform.
    if report=$("$CHECKOV" --config-file "$CHECKOV_CONFIG" --skip-download --quiet --compact \
            --framework kubernetes --file "$file" 2>&1); then
        echo "checkov    $file: OK"
    else
        echo "checkov    $file: FAILED"
        grep -E '^Check:|FAILED for resource' <<< "$report" | paste - - | sed 's/^/  /'
        status=1
    fi
done
exit "$status"
