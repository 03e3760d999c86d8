"""prod runs a reviewed commit: its Application is pinned, and the pin holds.

dev, staging and the root app follow main; prod's Application names the
commit its promotion PR pinned (scripts/gitops/promote.sh --commit prod), so
what reaches prod is what that PR showed. The pinned commit must be in this
repository's history (a promotion PR is merged with a merge commit) and its
prod overlay must build.
"""

from __future__ import annotations

import re
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

from tests.manifests.conftest import ROOT, Tools, policy


def application(name: str) -> dict:
    (app,) = [
        d
        for p in sorted((ROOT / "argocd").rglob("*.yaml"))
        for d in policy.load_documents(p)
        if d["kind"] == "Application" and d["metadata"]["name"] == name
    ]
    return app


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=False, timeout=60)


def test_prod_is_pinned_to_a_commit_and_the_others_follow_main():
    for name in ("gold-platform-root", "gold-platform-dev", "gold-platform-staging"):
        assert application(name)["spec"]["source"]["targetRevision"] == "main", name
    pin = application("gold-platform-prod")["spec"]["source"]["targetRevision"]
    assert re.fullmatch(r"[0-9a-f]{40}", pin), f"prod's targetRevision {pin!r} is not a commit SHA"


def test_the_pinned_commit_is_on_this_history_and_its_prod_overlay_builds(
    tools: Tools, tmp_path: Path
):
    pin = application("gold-platform-prod")["spec"]["source"]["targetRevision"]
    if git("rev-parse", "--is-shallow-repository").stdout.strip() == b"true":
        raise AssertionError("a shallow clone cannot check prod's pin: fetch the full history")
    assert git("cat-file", "-e", f"{pin}^{{commit}}").returncode == 0, f"{pin} is not a commit here"
    assert git("merge-base", "--is-ancestor", pin, "HEAD").returncode == 0, (
        f"prod's pin {pin} is not an ancestor of HEAD: merge promotion PRs with a merge commit"
    )
    archive = git("archive", "--format=tar", pin, "kustomize")
    assert archive.returncode == 0, archive.stderr
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(tmp_path, filter="data")
    docs = tools.build(tmp_path / "kustomize" / "overlays" / "prod")
    assert policy.RULES["backend-image"]("prod", docs) == []
