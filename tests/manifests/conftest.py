"""Fixtures for the Kubernetes manifest tests.

The tests run the real pinned tools (kustomize, kubeconform) against offline
schemas. `make tools` installs them; `make manifests` / `make test` export the
settings below. A missing tool or schema folder FAILS the tests: they are
never skipped silently.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts" / "manifests"
VALIDATE = SCRIPTS / "validate.py"
DEFAULT_CRD_LOCATION = (
    "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/"
    "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
)


def _load_policy():
    spec = importlib.util.spec_from_file_location("gold_manifest_policy", SCRIPTS / "policy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


policy = _load_policy()


def _path_setting(name: str, default: str) -> str:
    value = os.environ.get(name) or default
    path = Path(value)
    return str(path if path.is_absolute() else ROOT / path)


@dataclass(frozen=True)
class Tools:
    kustomize: str
    kubeconform: str
    k8s_version: str
    k8s_schema_dir: str
    crd_schema_location: str

    def validate(self, root: Path, out: Path) -> subprocess.CompletedProcess:
        """Run the same pipeline as `make manifests` on a repository tree."""
        return subprocess.run(
            [
                sys.executable,
                str(VALIDATE),
                "--root",
                str(root),
                "--out",
                str(out),
                "--kustomize",
                self.kustomize,
                "--kubeconform",
                self.kubeconform,
                "--k8s-version",
                self.k8s_version,
                "--k8s-schema-dir",
                self.k8s_schema_dir,
                "--crd-schema-location",
                self.crd_schema_location,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    def build(self, overlay: Path) -> list[dict]:
        result = subprocess.run(
            [self.kustomize, "build", str(overlay)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, f"kustomize build {overlay} failed:\n{result.stderr}"
        import yaml

        return [d for d in yaml.safe_load_all(result.stdout) if isinstance(d, dict)]


@pytest.fixture(scope="session")
def tools() -> Tools:
    crd = os.environ.get("CRD_SCHEMA_LOCATION") or DEFAULT_CRD_LOCATION
    if "{{" not in crd and not crd.startswith(("http://", "https://")):
        crd = _path_setting("CRD_SCHEMA_LOCATION", crd)
    found = Tools(
        kustomize=_path_setting("KUSTOMIZE", ".tools/bin/kustomize"),
        kubeconform=_path_setting("KUBECONFORM", ".tools/bin/kubeconform"),
        k8s_version=os.environ.get("KUBERNETES_VERSION", "1.33.0"),
        k8s_schema_dir=_path_setting("K8S_SCHEMA_DIR", ".cache/k8s-schemas"),
        crd_schema_location=crd,
    )
    for tool in (found.kustomize, found.kubeconform):
        if not os.access(tool, os.X_OK):
            pytest.fail(f"{tool} is missing: run 'make tools' (or 'make manifests')")
    schemas = Path(found.k8s_schema_dir) / f"v{found.k8s_version}-standalone-strict"
    if not schemas.is_dir():
        pytest.fail(f"{schemas} is missing: run 'make tools' (or 'make manifests')")
    return found


@pytest.fixture(scope="session")
def rendered(tools: Tools) -> dict[str, list[dict]]:
    """The repository's overlays, rendered once per session."""
    return {env: tools.build(ROOT / "kustomize" / "overlays" / env) for env in policy.ENVIRONMENTS}


@pytest.fixture(scope="session")
def cluster_sets(tools: Tools) -> dict[str, list[dict]]:
    """The cluster-scoped sets under kustomize/cluster, rendered once per session."""
    return {
        name: tools.build(ROOT / "kustomize" / "cluster" / name) for name in policy.CLUSTER_SETS
    }


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the manifest sources (kustomize/ and argocd/) to inject faults into."""
    root = tmp_path / "repo"
    for part in ("kustomize", "argocd"):
        shutil.copytree(ROOT / part, root / part)
    return root
