"""Known-vulnerability audit of the pinned runtime dependencies (requirements.lock).

Usage: python scripts/security/audit.py [requirements.lock]

1. pip-audit reads the fully pinned, hashed lock without installing anything
   and asks PyPI's per-release JSON API for advisories (the PyPA database).
   OSV (api.osv.dev) is not reachable from the build machines, and pip-audit
   has no offline database.
2. The registry the build machines reach serves PyPI's project JSON
   (/pypi/NAME/json) but not the per-release one (/pypi/NAME/VERSION/json), so
   pip-audit reports every package as "could not be audited" there. For those,
   this script reads the project JSON, whose `vulnerabilities` list is PyPI's
   advisory data for the latest release: exact when the locked version is the
   latest. A locked version that is not the latest cannot be audited that way;
   it is listed, and fails the audit only with AUDIT_STRICT=1.

Exit status: 0 clean, 1 known vulnerabilities (or unaudited packages when
strict), 2 bad input or tools missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lock_check import parse_lock


def pypi_json_api() -> str:
    """PyPI's JSON API beside the index pip is configured with (PIP_INDEX_URL,
    pip.conf), else beside pip's built-in default index; AUDIT_PYPI_URL overrides."""
    if os.environ.get("AUDIT_PYPI_URL"):
        return os.environ["AUDIT_PYPI_URL"].rstrip("/")
    from pip._internal.configuration import Configuration
    from pip._internal.models.index import PyPI

    config = Configuration(isolated=False)
    config.load()
    configured = {key: value for _, values in config.items() for key, value in values.items()}
    for key in (":env:.index-url", "install.index-url", "global.index-url"):
        if configured.get(key):
            index = configured[key].rstrip("/")
            return index.removesuffix("/simple") + "/pypi"
    return PyPI.pypi_url


PYPI = pypi_json_api()


def run_pip_audit(pip_audit: str, lock: Path) -> dict:
    result = subprocess.run(
        [
            pip_audit,
            "--requirement",
            str(lock),
            "--require-hashes",
            "--disable-pip",
            "--vulnerability-service",
            "pypi",
            "--progress-spinner",
            "off",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1) or not result.stdout.strip():
        raise RuntimeError(f"pip-audit failed ({result.returncode}): {result.stderr.strip()}")
    return json.loads(result.stdout)


def project_vulnerabilities(name: str, version: str) -> tuple[str, list[dict]] | None:
    """(latest version, its advisories) from PyPI's project JSON; None when unreachable."""
    try:
        with urllib.request.urlopen(f"{PYPI}/{name}/json", timeout=20) as response:
            data = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    latest = data["info"]["version"]
    return latest, data.get("vulnerabilities", []) if latest == version else []


def main(argv: list[str]) -> int:
    lock = Path(argv[0] if argv else "requirements.lock")
    if not lock.is_file():
        print(f"audit: {lock} not found (make lock)", file=sys.stderr)
        return 2
    pip_audit = os.environ.get("PIP_AUDIT", ".venv/bin/pip-audit")
    if not Path(pip_audit).is_file():
        print(f"audit: {pip_audit} not found (make reliability-deps)", file=sys.stderr)
        return 2
    strict = os.environ.get("AUDIT_STRICT") == "1"
    try:
        report = run_pip_audit(pip_audit, lock)
    except (RuntimeError, ValueError) as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return 2

    locked = parse_lock(lock.read_text())
    found: list[str] = []
    unaudited: list[str] = []
    audited_by = {"pip-audit": 0, "project-json": 0}
    for dep in report["dependencies"]:
        name = dep["name"]
        version = dep.get("version") or locked.get(name, ("?", 0))[0]
        if "skip_reason" not in dep:
            audited_by["pip-audit"] += 1
            found += [
                f"{name}=={version}: {v['id']} (fix: {v.get('fix_versions')})" for v in dep["vulns"]
            ]
            continue
        fallback = project_vulnerabilities(name, version)
        if fallback is None or fallback[0] != version:
            latest = fallback[0] if fallback else "unreachable"
            unaudited.append(f"{name}=={version} (latest {latest})")
            continue
        audited_by["project-json"] += 1
        found += [
            f"{name}=={version}: {v.get('id')} {','.join(v.get('aliases', []))} "
            f"(fixed in {','.join(v.get('fixed_in', [])) or '?'})"
            for v in fallback[1]
            if not v.get("withdrawn")
        ]

    total = len(report["dependencies"])
    print(
        f"audit: {total} locked packages; audited via pip-audit={audited_by['pip-audit']}, "
        f"via PyPI project JSON={audited_by['project-json']}; unaudited={len(unaudited)}; "
        f"known vulnerabilities={len(found)}"
    )
    for line in found:
        print(f"  VULNERABLE {line}")
    for line in unaudited:
        print(f"  not auditable here (not the latest release): {line}")
    if found or (strict and unaudited):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
