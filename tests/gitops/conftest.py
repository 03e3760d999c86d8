"""Fixtures for the GitOps script tests (see helpers.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.gitops.helpers import (
    ARGOCD_APP,
    BASE_KUSTOMIZATION,
    DEPLOYMENT,
    ENVS,
    IMAGE_REPO,
    INITIAL_PIN,
    OVERLAY,
    PROD_APP,
    SERVICE,
    VERSION,
    Repo,
    find_kustomize,
    git_env,
    version_path,
)


@pytest.fixture(scope="session")
def kustomize() -> str:
    if shutil.which("git") is None:
        pytest.fail("git is required by the GitOps tests", pytrace=False)
    return find_kustomize()


@pytest.fixture()
def repo(tmp_path: Path, kustomize: str) -> Repo:
    path = tmp_path / "repo"
    path.mkdir()
    env = git_env(tmp_path)
    env["KUSTOMIZE"] = kustomize
    r = Repo(path, env)
    r.git("init", "-q", "-b", "main")
    r.write("kustomize/base/kustomization.yaml", BASE_KUSTOMIZATION)
    r.write("kustomize/base/deployment.yaml", DEPLOYMENT)
    r.write("kustomize/base/service.yaml", SERVICE)
    for i, e in enumerate(ENVS):
        r.write(f"kustomize/overlays/{e}/kustomization.yaml", OVERLAY.format(env=e, replicas=i + 1))
        r.write(version_path(e), VERSION.format(env=e, repo=IMAGE_REPO, pin=INITIAL_PIN[e]))
        r.write(f"argocd/apps/{e}.yaml", ARGOCD_APP.format(env=e))
    r.write("README.md", "fixture\n")
    initial = r.commit_all("initial tree")
    # prod runs a pinned commit (argocd/apps/prod.yaml), as in the repository.
    r.write(
        PROD_APP, r.read(PROD_APP).replace("targetRevision: main", f"targetRevision: {initial}")
    )
    r.commit_all("pin prod to the initial tree")
    return r
