"""Helpers for the GitOps script tests.

Each test gets a throwaway git repository holding a minimal but realistic
kustomize tree of the project's shape: a base (Deployment + Service), three
overlays (dev, staging, prod) and, per overlay, the `version/` Component that
carries the image version. The scripts from this checkout run against it for
real (git, the pinned kustomize). A missing kustomize fails loudly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "gitops"
ENVS = ("dev", "staging", "prod")
IMAGE_REPO = "ghcr.io/gold-platform/gold-platform"

BASE_KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
labels:
  - pairs:
      app.kubernetes.io/name: gold-platform
    includeSelectors: true
resources:
  - deployment.yaml
  - service.yaml
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: gold-platform
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: api
          image: gold-platform
          args: ["serve"]
          ports:
            - containerPort: 8080
              name: http
          readinessProbe:
            httpGet: {path: /health/ready, port: http}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: gold-platform
spec:
  ports:
    - name: http
      port: 80
      targetPort: http
"""

OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: gold-{env}
resources:
  - ../../base
components:
  - version
patches:
  - target:
      kind: Deployment
      name: gold-platform
    patch: |-
      - op: replace
        path: /spec/replicas
        value: {replicas}
"""

VERSION = """\
# Image version of {env}. Written by scripts/gitops (bump: dev, promote: staging/prod).
apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
images:
  - name: gold-platform
    newName: {repo}
    {pin}
"""

ARGOCD_APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: gold-platform-{env}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://example.invalid/gold-platform.git
    targetRevision: main
    path: kustomize/overlays/{env}
  destination:
    server: https://kubernetes.default.svc
    namespace: gold-{env}
"""

PROD_APP = "argocd/apps/prod.yaml"

INITIAL_PIN = {
    "dev": "digest: sha256:" + "1" * 64,
    "staging": "digest: sha256:" + "2" * 64,
    "prod": "newTag: 0.1.0",
}


def find_kustomize() -> str:
    candidates = [os.environ.get("KUSTOMIZE", ""), str(ROOT / ".tools" / "bin" / "kustomize")]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return str(Path(c).resolve())
    found = shutil.which("kustomize")
    if found:
        return found
    pytest.fail(
        "kustomize not found (looked at $KUSTOMIZE, .tools/bin/kustomize, PATH): "
        "run 'make tools' first",
        pytrace=False,
    )


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITHUB_"))}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test Author",
        GIT_AUTHOR_EMAIL="author@example.invalid",
        GIT_COMMITTER_NAME="Test Author",
        GIT_COMMITTER_EMAIL="author@example.invalid",
        LC_ALL="C",
    )
    return env


class Repo:
    """A throwaway git repository with the kustomize tree."""

    def __init__(self, path: Path, env: dict[str, str]):
        self.path = path
        self.env = env

    def git(self, *args: str, check: bool = True, strip: bool = True) -> str:
        res = subprocess.run(
            ["git", *args], cwd=self.path, env=self.env, text=True, capture_output=True
        )
        if check and res.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {res.stderr}")
        return res.stdout.strip() if strip else res.stdout

    def run(self, script: str, *args: str, extra_env: dict[str, str] | None = None):
        env = dict(self.env)
        env.update(extra_env or {})
        return subprocess.run(
            ["bash", str(SCRIPTS / script), *args],
            cwd=self.path,
            env=env,
            text=True,
            capture_output=True,
            timeout=120,
        )

    def write(self, rel: str, text: str) -> None:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()

    def commit_all(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def status(self) -> list[str]:
        out = self.git("status", "--porcelain", "--untracked-files=all", strip=False)
        return [line for line in out.splitlines() if line]

    def build(self, kustomize: str, env: str, at: str | None = None) -> str:
        """The overlay rendered from the work tree, or from commit `at`."""
        tree = self.path
        if at is not None:
            tree = Path(tempfile.mkdtemp(dir=self.path.parent))
            archive = subprocess.run(
                ["git", "archive", at, "kustomize"],
                cwd=self.path,
                env=self.env,
                capture_output=True,
            )
            assert archive.returncode == 0, archive.stderr
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        res = subprocess.run(
            [kustomize, "build", f"kustomize/overlays/{env}"],
            cwd=tree,
            text=True,
            capture_output=True,
        )
        assert res.returncode == 0, f"kustomize build {env} failed: {res.stderr}"
        return res.stdout

    def prod_pin(self, at: str = "HEAD") -> str:
        """The commit prod's Application is pinned to, as of commit `at`."""
        app = yaml.safe_load(self.git("show", f"{at}:{PROD_APP}"))
        return app["spec"]["source"]["targetRevision"]


def version_path(env: str) -> str:
    return f"kustomize/overlays/{env}/version/kustomization.yaml"
