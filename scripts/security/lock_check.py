"""Check that requirements.lock pins, with hashes, every runtime dependency of setup.cfg.

Usage: python scripts/security/lock_check.py setup.cfg requirements.lock

Every name in [options] install_requires must appear in the lock as
`name==version` satisfying its specifier, and every locked package must carry
at least one sha256 hash (so `pip install --require-hashes` accepts the file).
"""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")


def parse_lock(text: str) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes)."""
    entries: dict[str, tuple[str, int]] = {}
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = PIN.match(stripped)
        if match:
            current = canonicalize_name(match.group(1))
            entries[current] = (match.group(2), 0)
        elif stripped.startswith("--hash=") and current is not None:
            if not HASH.search(stripped):
                raise ValueError(f"not a sha256 hash: {stripped}")
            version, count = entries[current]
            entries[current] = (version, count + 1)
        elif stripped.startswith("-"):
            raise ValueError(f"unexpected option in the lock: {stripped}")
        else:
            raise ValueError(f"not a pinned requirement: {stripped}")
    return entries


def runtime_requirements(setup_cfg: Path) -> list[Requirement]:
    parser = configparser.ConfigParser()
    parser.read(setup_cfg)
    raw = parser.get("options", "install_requires", fallback="")
    return [Requirement(line.strip()) for line in raw.splitlines() if line.strip()]


def check(setup_cfg: Path, lock: Path) -> list[str]:
    problems = []
    entries = parse_lock(lock.read_text())
    for requirement in runtime_requirements(setup_cfg):
        name = canonicalize_name(requirement.name)
        if name not in entries:
            problems.append(f"{requirement.name} is not in {lock}")
            continue
        version = entries[name][0]
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{name}=={version} does not satisfy '{requirement}'")
    problems += [f"{name} has no --hash" for name, (_v, n) in entries.items() if n == 0]
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: lock_check.py SETUP_CFG LOCK_FILE", file=sys.stderr)
        return 2
    setup_cfg, lock = Path(argv[0]), Path(argv[1])
    for path in (setup_cfg, lock):
        if not path.is_file():
            print(f"lock_check: {path} not found", file=sys.stderr)
            return 2
    try:
        problems = check(setup_cfg, lock)
    except (ValueError, InvalidRequirement) as exc:
        print(f"lock_check: {lock}: {exc}", file=sys.stderr)
        return 1
    if problems:
        print(
            f"lock_check: {lock} is stale; run 'make lock': " + "; ".join(problems), file=sys.stderr
        )
        return 1
    count = len(parse_lock(lock.read_text()))
    print(f"lock_check: {lock} pins {count} packages, all hashed, covering setup.cfg")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
