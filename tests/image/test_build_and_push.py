"""scripts/build-and-push.sh: what it refuses, and the tags it would push.

Runs the real script in a throwaway git repository with DRY_RUN=1 (commands
printed, nothing built or pushed). Needs git only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts/build-and-push.sh"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy2(SCRIPT, repo / "scripts/build-and-push.sh")
    (repo / "Containerfile").write_text("FROM python:3.11-slim\n")
    (repo / "setup.cfg").write_text("[metadata]\nname = gold-platform\nversion = 1.2.3\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "x")
    return repo


def _run(repo: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("REGISTRY", "BUILDER", "DRY_RUN")}
    return subprocess.run(
        ["bash", str(repo / "scripts/build-and-push.sh")],
        env={**base, "DRY_RUN": "1", "BUILDER": "docker", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_refuses_without_registry(repo: Path) -> None:
    result = _run(repo)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "build-and-push: REGISTRY is not set (e.g. REGISTRY=ghcr.io/OWNER); refusing to build"
    ]
    assert result.stdout == ""


def test_refuses_with_empty_registry(repo: Path) -> None:
    result = _run(repo, REGISTRY="")
    assert result.returncode == 1
    assert "REGISTRY is not set" in result.stderr


def test_refuses_a_changed_file(repo: Path) -> None:
    (repo / "Containerfile").write_text("FROM python:3.11-slim\nUSER 1000\n")
    result = _run(repo, REGISTRY="ghcr.io/acme")
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1
    assert "work tree is dirty" in result.stderr
    assert "docker buildx" not in result.stdout


def test_refuses_an_untracked_file(repo: Path) -> None:
    (repo / "stray.txt").write_text("would end up in the build context\n")
    result = _run(repo, REGISTRY="ghcr.io/acme")
    assert result.returncode == 1
    assert "work tree is dirty" in result.stderr


def test_refuses_outside_a_git_tree(tmp_path: Path) -> None:
    lone = tmp_path / "lone/scripts"
    lone.mkdir(parents=True)
    shutil.copy2(SCRIPT, lone / "build-and-push.sh")
    env = {
        **os.environ,
        "REGISTRY": "ghcr.io/acme",
        "DRY_RUN": "1",
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }
    result = subprocess.run(
        ["bash", str(lone / "build-and-push.sh")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "is not a git work tree" in result.stderr


def test_clean_tree_tags_the_sha_for_both_platforms(repo: Path) -> None:
    sha = _git(repo, "rev-parse", "--short=12", "HEAD")
    result = _run(repo, REGISTRY="ghcr.io/acme/")
    assert result.returncode == 0, result.stderr
    command = next(line for line in result.stdout.splitlines() if line.startswith("+ docker"))
    assert "buildx build" in command
    assert "--platform linux/amd64\\,linux/arm64" in command or "linux/amd64,linux/arm64" in command
    assert f"--tag ghcr.io/acme/gold-platform:{sha}" in command
    assert command.count("--tag") == 1  # no version tag without a git tag
    assert f"REVISION={_git(repo, 'rev-parse', 'HEAD')}" in command
    assert "--push" in command


def test_version_tag_adds_the_version(repo: Path) -> None:
    _git(repo, "tag", "v1.2.3")
    result = _run(repo, REGISTRY="ghcr.io/acme")
    assert result.returncode == 0, result.stderr
    assert "--tag ghcr.io/acme/gold-platform:1.2.3" in result.stdout
    assert "VERSION=1.2.3" in result.stdout


def test_refuses_a_tag_that_disagrees_with_setup_cfg(repo: Path) -> None:
    _git(repo, "tag", "v9.9.9")
    result = _run(repo, REGISTRY="ghcr.io/acme")
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "build-and-push: tag v9.9.9 does not match setup.cfg version 1.2.3"
    )


def test_podman_builds_a_manifest_and_pushes_each_tag(repo: Path) -> None:
    _git(repo, "tag", "v1.2.3")
    result = _run(repo, REGISTRY="registry.example:5000/acme", BUILDER="podman")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("+ podman")]
    assert any("podman build" in line and "--manifest" in line for line in lines)
    pushes = [line for line in lines if "manifest push --all" in line]
    assert [p.split()[-1] for p in pushes] == [
        f"docker://registry.example:5000/acme/gold-platform:{_git(repo, 'rev-parse', '--short=12', 'HEAD')}",
        "docker://registry.example:5000/acme/gold-platform:1.2.3",
    ]


def test_rejects_an_unknown_builder(repo: Path) -> None:
    result = _run(repo, REGISTRY="ghcr.io/acme", BUILDER="kaniko")
    assert result.returncode == 1
    assert "BUILDER must be docker or podman" in result.stderr


def _run_with_args(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(repo / "scripts/build-and-push.sh"), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_help_prints_the_usage_and_exits_0(repo: Path) -> None:
    result = _run_with_args(repo, "--help")
    assert result.returncode == 0, result.stderr
    assert "REGISTRY" in result.stdout and "DRY_RUN=1" in result.stdout
    assert "set -euo" not in result.stdout


def test_unknown_argument_is_one_line_and_exit_2(repo: Path) -> None:
    result = _run_with_args(repo, "--push-now")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "--push-now" in result.stderr


def test_dry_run_needs_no_builder_and_never_says_pushed(repo: Path, tmp_path: Path) -> None:
    # A PATH with what the script itself needs, and neither docker nor podman.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "git", "sed", "head", "dirname", "uname", "cat", "printf"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    base = {k: v for k, v in os.environ.items() if k not in ("REGISTRY", "BUILDER", "DRY_RUN")}
    result = subprocess.run(
        [str(bin_dir / "bash"), str(repo / "scripts/build-and-push.sh")],
        env={**base, "PATH": str(bin_dir), "DRY_RUN": "1", "REGISTRY": "ghcr.io/acme"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "+ podman build" in result.stdout
    assert "dry run: nothing built or pushed" in result.stdout
    assert "pushed ghcr.io" not in result.stdout
