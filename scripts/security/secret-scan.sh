#!/usr/bin/env bash
# Scan every commit of this repository for secrets with gitleaks.
# Usage: scripts/security/secret-scan.sh [extra gitleaks args]
# Rules and the explicit allow-list of fake values: scripts/security/gitleaks.toml
set -euo pipefail

root=$(git rev-parse --show-toplevel 2>/dev/null) || {
    echo "secret-scan: not inside a git repository" >&2
    exit 2
}
cd "$root"
gitleaks=${GITLEAKS:-.tools/bin/gitleaks}
if [ ! -x "$gitleaks" ]; then
    echo "secret-scan: $gitleaks not found; run 'make tools' (go install of gitleaks)" >&2
    exit 2
fi
commits=$(git rev-list --count HEAD)
echo "secret-scan: gitleaks over $commits commits with scripts/security/gitleaks.toml"
"$gitleaks" git . --config scripts/security/gitleaks.toml --redact --no-banner "$@"
