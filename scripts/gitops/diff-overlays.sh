#!/usr/bin/env bash
# Render every kustomize overlay (and argocd/) at two revisions and diff them.
#
# Usage: scripts/gitops/diff-overlays.sh [options] BASE [HEAD]
#   BASE, HEAD     git revisions; without HEAD the work tree (with its
#                  uncommitted edits) is the head side
#   --merge-base   compare against merge-base(BASE, HEAD) instead of BASE
#                  (what a pull request changes, not what main gained since)
#   --markdown F   also write a PR-comment body to F: hidden marker, summary
#                  table, one folded diff per environment, cut to fit
#   --max-chars N  size limit of the markdown body (default 60000; GitHub
#                  refuses comments over 65536 characters)
#   --run-url URL  link to the full diff (the CI run) in the markdown
#   --target T     only this target (an overlay name, or argocd)
#
# Both sides are rendered with the pinned `kustomize build`, which re-emits
# YAML with sorted keys, fixed indentation and no comments, so edits that
# only move formatting render identically and report "no change".
# Targets: kustomize/overlays/* (each with a kustomization) and argocd/
# (built through its kustomization, or a generated one listing its YAML).
# Output: the full unified diff per target on stdout, then a summary line.
# Exit 0 when everything rendered (changed or not), 1 when a target fails
# to render at the head side, 2 on bad usage.
set -euo pipefail
# shellcheck source=scripts/gitops/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MARKER='<!-- gold-platform:manifests-diff -->'
markdown="" max_chars=60000 merge_base=false run_url="" only="" base="" head=""
while (($#)); do
  case "$1" in
    --markdown)
      [[ $# -ge 2 && -n "$2" ]] || usage_die "--markdown needs a file"
      markdown="$2"
      shift
      ;;
    --max-chars)
      [[ $# -ge 2 && "$2" =~ ^[0-9]+$ && "$2" -ge 2000 ]] || usage_die "--max-chars needs a number >= 2000"
      max_chars="$2"
      shift
      ;;
    --run-url)
      [[ $# -ge 2 && "$2" =~ ^https?://[^[:space:]\)\(]+$ ]] || usage_die "--run-url needs an http(s) URL"
      run_url="$2"
      shift
      ;;
    --target)
      [[ $# -ge 2 && -n "$2" ]] || usage_die "--target needs an overlay name (or argocd)"
      only="$2"
      shift
      ;;
    --merge-base) merge_base=true ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*) usage_die "unknown option '$1'" ;;
    *)
      if [[ -z "$base" ]]; then
        base="$1"
      elif [[ -z "$head" ]]; then
        head="$1"
      else
        usage_die "unexpected argument '$1'"
      fi
      ;;
  esac
  shift
done
[[ -n "$base" ]] || usage_die "missing BASE revision"

root="$(repo_root)"
cd "$root"
resolve() {
  git rev-parse --quiet --verify "$1^{commit}" 2>/dev/null || die "unknown git revision '$1'"
}
base_sha="$(resolve "$base")"
head_sha=""
[[ -z "$head" ]] || head_sha="$(resolve "$head")"
if $merge_base; then
  base_sha="$(git merge-base "$base_sha" "${head_sha:-HEAD}")" || die "no merge base between '$base' and '${head:-HEAD}'"
fi
kustomize_bin="$(find_kustomize)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/diff-overlays.XXXXXX")"
trap 'rm -rf -- "$tmp"' EXIT
mkdir -p "$tmp/base" "$tmp/head" "$tmp/out"

extract_manifests "$base_sha" "$tmp/base"
extract_manifests "$head_sha" "$tmp/head"

has_kustomization() {
  [[ -f "$1/kustomization.yaml" || -f "$1/kustomization.yml" || -f "$1/Kustomization" ]]
}

# Targets: overlays known envs first (dev, staging, prod), then the others.
declare -a targets=()
add_target() {
  local t
  for t in "${targets[@]+"${targets[@]}"}"; do [[ "$t" == "$1" ]] && return 0; done
  targets+=("$1")
}
for e in "${GITOPS_ENVS[@]}"; do
  for side in base head; do
    has_kustomization "$tmp/$side/kustomize/overlays/$e" && add_target "$e"
  done
done
while IFS= read -r d; do
  add_target "$(basename "$d")"
done < <(for side in base head; do
  for d in "$tmp/$side"/kustomize/overlays/*/; do
    has_kustomization "$d" && basename "$d"
  done
done | sort -u)
for side in base head; do
  [[ -d "$tmp/$side/argocd" ]] && add_target argocd
done
((${#targets[@]})) || die "no overlays found under kustomize/overlays at either revision"
if [[ -n "$only" ]]; then
  [[ " ${targets[*]} " == *" $only "* ]] || die "target '$only' exists at neither revision"
  targets=("$only")
fi

target_dir() {
  if [[ "$1" == argocd ]]; then echo argocd; else echo "kustomize/overlays/$1"; fi
}

# render SIDE TARGET -> prints status: ok | absent | failed
render() {
  local side="$1" t="$2" dir out err
  dir="$tmp/$side/$(target_dir "$t")"
  out="$tmp/out/$t.$side.yaml"
  err="$tmp/out/$t.$side.err"
  : >"$out"
  : >"$err"
  if [[ ! -d "$dir" ]]; then
    echo absent
    return 0
  fi
  if [[ "$t" == argocd ]] && ! has_kustomization "$dir"; then
    # plain manifests: let kustomize normalise them through a throwaway
    # kustomization listing every YAML file below argocd/
    local files=()
    while IFS= read -r f; do files+=("$f"); done < <(cd "$dir" && find . -type f \( -name '*.yaml' -o -name '*.yml' \) | LC_ALL=C sort)
    if ((${#files[@]} == 0)); then
      echo ok
      return 0
    fi
    printf 'resources:\n' >"$dir/kustomization.yaml"
    printf '  - %s\n' "${files[@]}" >>"$dir/kustomization.yaml"
  fi
  if "$kustomize_bin" build "$dir" >"$out" 2>"$err"; then
    echo ok
  else
    echo failed
  fi
}

head_label="${head_sha:0:12}"
[[ -n "$head_label" ]] || head_label="work-tree"
declare -A status=() plus=() minus=()
changed=() failed_head=()
: >"$tmp/report.txt"
for t in "${targets[@]}"; do
  bs="$(render base "$t")"
  hs="$(render head "$t")"
  diff_file="$tmp/out/$t.diff"
  diff -u --label "$t@${base_sha:0:12}" --label "$t@$head_label" \
    "$tmp/out/$t.base.yaml" "$tmp/out/$t.head.yaml" >"$diff_file" || true
  plus[$t]="$(( $(grep -c '^+' "$diff_file" || true) - $(grep -c '^+++ ' "$diff_file" || true) ))"
  minus[$t]="$(( $(grep -c '^-' "$diff_file" || true) - $(grep -c '^--- ' "$diff_file" || true) ))"
  if [[ "$hs" == failed ]]; then
    status[$t]="render failed at head"
    failed_head+=("$t")
    { printf '\n'; sed 's/^/    /' "$tmp/out/$t.head.err"; } >>"$diff_file"
  elif [[ "$bs" == absent && "$hs" == ok ]]; then
    status[$t]="added"
  elif [[ "$bs" == ok && "$hs" == absent ]]; then
    status[$t]="removed"
  elif [[ "$bs" == failed ]]; then
    status[$t]="changed (base did not render)"
  elif [[ -s "$diff_file" ]]; then
    status[$t]="changed"
  else
    status[$t]="no change"
  fi
  [[ "${status[$t]}" == "no change" ]] || changed+=("$t")
  {
    if [[ "${status[$t]}" == "no change" ]]; then
      printf '== %s: no change\n' "$t"
    else
      printf '== %s: %s (+%s -%s)\n' "$t" "${status[$t]}" "${plus[$t]}" "${minus[$t]}"
      cat "$diff_file"
    fi
  } >>"$tmp/report.txt"
done

if ((${#changed[@]} == 0)); then
  summary="no change in the rendered manifests of: ${targets[*]}"
else
  unchanged=()
  for t in "${targets[@]}"; do
    if [[ "${status[$t]}" == "no change" ]]; then unchanged+=("$t"); fi
  done
  summary="rendered manifests changed in: ${changed[*]} (unchanged: ${unchanged[*]:-none})"
fi
cat "$tmp/report.txt"
printf 'diff-overlays: %s\n' "$summary"

if [[ -n "$markdown" ]]; then
  md="$tmp/comment.md"
  # shellcheck disable=SC2016 # backticks are markdown, not command substitution
  {
    printf '%s\n### Rendered manifests: `%s` → `%s`\n\n' "$MARKER" "${base_sha:0:12}" "$head_label"
    if ((${#changed[@]} == 0)); then
      printf '**No change.** The rendered manifests of every target (%s) are identical at base and head' "${targets[*]}"
      printf ' (edits that only move YAML formatting or comments render the same).\n'
    else
      printf '| Target | Result |\n|---|---|\n'
      for t in "${targets[@]}"; do
        if [[ "${status[$t]}" == "no change" ]]; then
          printf '| `%s` | no change |\n' "$t"
        else
          printf '| `%s` | **%s**: +%s −%s lines |\n' "$t" "${status[$t]}" "${plus[$t]}" "${minus[$t]}"
        fi
      done
    fi
  } >"$md"
  footer=""
  if ((${#changed[@]})); then
    footer=$'\n'"<sub>Rendered with \`kustomize build\` (pinned). "
    if [[ -n "$run_url" ]]; then
      footer+="Full diff: [workflow run]($run_url), artifact \`manifests-diff\`."
    else
      footer+="Full diff: \`scripts/gitops/diff-overlays.sh ${base_sha:0:12} $head_label\`."
    fi
    footer+="</sub>"
  fi
  # Share what is left of the budget between the changed targets: smallest
  # first, each gets min(its size, an equal share of the rest).
  fence='`````'
  overhead=220 # per section: <details>, summary, fences, truncation note
  budget=$((max_chars - $(wc -c <"$md") - ${#footer} - 50))
  declare -A alloc=()
  if ((${#changed[@]})); then
    left="$budget" n="${#changed[@]}"
    while IFS=' ' read -r size t; do
      share=$((left / n - overhead))
      ((share > 0)) || share=0
      a=$((size < share ? size : share))
      alloc[$t]="$a"
      left=$((left - a - overhead))
      n=$((n - 1))
    done < <(for t in "${changed[@]}"; do printf '%s %s\n' "$(wc -c <"$tmp/out/$t.diff")" "$t"; done | sort -n)
  fi
  for t in "${changed[@]+"${changed[@]}"}"; do
    f="$tmp/out/$t.diff"
    total_lines="$(wc -l <"$f")"
    awk -v max="${alloc[$t]}" '{ n += length($0) + 1; if (n > max) exit; print }' "$f" >"$f.cut"
    kept="$(wc -l <"$f.cut")"
    {
      printf '\n<details><summary><code>%s</code>: %s (+%s −%s)</summary>\n\n%sdiff\n' \
        "$t" "${status[$t]}" "${plus[$t]}" "${minus[$t]}" "$fence"
      cat "$f.cut"
      printf '%s\n' "$fence"
      if ((kept < total_lines)); then
        printf '\n:warning: Truncated: %d of %d diff lines shown to fit the comment.\n' "$kept" "$total_lines"
      fi
      printf '</details>\n'
    } >>"$md"
  done
  printf '%s\n' "$footer" >>"$md"
  cp -- "$md" "$markdown"
fi

if ((${#failed_head[@]})); then
  die "render failed at head for: ${failed_head[*]}"
fi
