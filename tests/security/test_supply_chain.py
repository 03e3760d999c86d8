"""Supply chain and configuration: the dependency lock and the secret scan, each
checked on the real repository and shown to catch what it is meant to catch."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.helpers import REPO, show_figures

LOCK_CHECK = REPO / "scripts" / "security" / "lock_check.py"
SECRET_SCAN = REPO / "scripts" / "security" / "secret-scan.sh"
GITLEAKS_CONFIG = REPO / "scripts" / "security" / "gitleaks.toml"
GITLEAKS = REPO / ".tools" / "bin" / "gitleaks"


def lock_check(setup_cfg: Path, lock: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(LOCK_CHECK), str(setup_cfg), str(lock)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_lock_pins_and_hashes_every_runtime_dependency():
    result = lock_check(REPO / "setup.cfg", REPO / "requirements.lock")
    show_figures(f"\n{result.stdout.strip()}{result.stderr.strip()}")
    assert result.returncode == 0, result.stderr


def test_image_installs_from_the_lock_with_hashes():
    containerfile = (REPO / "Containerfile").read_text()
    assert "requirements.lock" in containerfile
    assert "--require-hashes -r requirements.lock" in containerfile


def test_lock_check_catches_a_stale_or_unhashed_lock(tmp_path):
    setup_cfg = tmp_path / "setup.cfg"
    setup_cfg.write_text("[options]\ninstall_requires =\n    aiohttp>=3.9\n    leftpad>=1\n")
    lock = tmp_path / "requirements.lock"
    lock.write_text("aiohttp==3.14.5 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    stale = lock_check(setup_cfg, lock)
    assert stale.returncode == 1 and "leftpad is not in" in stale.stderr

    setup_cfg.write_text("[options]\ninstall_requires =\n    aiohttp>=4\n")
    wrong_version = lock_check(setup_cfg, lock)
    assert wrong_version.returncode == 1 and "does not satisfy" in wrong_version.stderr

    lock.write_text("aiohttp==3.14.5\n")
    setup_cfg.write_text("[options]\ninstall_requires =\n    aiohttp>=3.9\n")
    unhashed = lock_check(setup_cfg, lock)
    assert unhashed.returncode == 1 and "has no --hash" in unhashed.stderr

    lock.write_text("aiohttp>=3.9\n")
    unpinned = lock_check(setup_cfg, lock)
    assert unpinned.returncode == 1 and "not a pinned requirement" in unpinned.stderr

    missing = lock_check(setup_cfg, tmp_path / "nope.lock")
    assert missing.returncode == 2 and "not found" in missing.stderr


def _need_gitleaks() -> Path:
    if not GITLEAKS.is_file():
        pytest.fail("gitleaks is missing: run 'make tools' (go install into .tools/bin)")
    return GITLEAKS


def test_repository_history_has_no_secrets():
    _need_gitleaks()
    result = subprocess.run(
        [str(SECRET_SCAN)],
        capture_output=True,
        text=True,
        check=False,
        env={"GITLEAKS": str(GITLEAKS), "PATH": "/usr/bin:/bin"},
    )
    show_figures(f"\n{result.stdout.strip()} {result.stderr.strip()[-300:]}")
    assert result.returncode == 0, result.stdout + result.stderr


# Planted values are assembled at run time so this file itself never matches a rule.
FAKE_PARTNER_KEY = "gp_" + "0123456789abcdef" + "_" + "Zk3vQ9pL2mX7wR4tY8uI1oP5aS6dF0gH3jK7lZ2xC4v"
FAKE_SECRET = "S3cr3t-" + "Pa55w0rd"
OPERATOR_VAR = "OPERATOR_" + "API_KEY="
DEV_FAKE = "dev-only-" + "insecure-operator-key"


@pytest.mark.parametrize(
    ("path", "text", "caught"),
    [
        ("app.py", f'KEY = "{FAKE_PARTNER_KEY}"\n', True),
        ("deploy.env", OPERATOR_VAR + "Zq8rT2vW9yB4nM6kL1pX3cV5\n", True),
        ("settings.yaml", "url: postgresql://gold:" + FAKE_SECRET + "@db:5432/gold\n", True),
        ("cache.env", "REDIS_URL=redis://:" + FAKE_SECRET + "@redis:6379/0\n", True),
        # The dev overlay's fake values pass where they belong ...
        (
            "kustomize/overlays/dev/kustomization.yaml",
            "- " + OPERATOR_VAR + DEV_FAKE + "\n",
            False,
        ),
        # ... and are caught anywhere else.
        (
            "kustomize/overlays/prod/secret.env",
            OPERATOR_VAR + DEV_FAKE + "\n",
            True,
        ),
        ("README.md", "`postgresql://user:" + "pass@host:5432/db`\n", False),
    ],
)
def test_secret_scan_catches_planted_secrets(tmp_path, path, text, caught):
    gitleaks = _need_gitleaks()
    repo = tmp_path / "repo"
    (repo / path).parent.mkdir(parents=True)
    (repo / path).write_text(text)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "plant"], check=True)
    result = subprocess.run(
        [
            str(gitleaks),
            "git",
            str(repo),
            "--config",
            str(GITLEAKS_CONFIG),
            "--no-banner",
            "--redact",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    show_figures(
        f"\n[secret-scan] {path}: exit={result.returncode} (expected {'1' if caught else '0'})"
    )
    assert result.returncode == (1 if caught else 0), result.stdout + result.stderr


def test_go_is_there_for_the_gitleaks_install():
    """`make tools` installs gitleaks with `go install` (pinned tag, no replace)."""
    mk = (REPO / "mk" / "reliability.mk").read_text()
    assert "go install github.com/zricethezav/gitleaks/v8@$(GITLEAKS_VERSION)" in mk
    assert shutil.which("go") or GITLEAKS.is_file()
