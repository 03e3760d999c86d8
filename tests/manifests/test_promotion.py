"""Promotion is a one-file change: the version Component of an environment."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.manifests.conftest import Tools, policy

SHA_TAG = "3f9c2a1d0b7e4c5a6f8e9d0c1b2a3f4e5d6c7b8a"
DIGEST = "sha256:" + "ab" * 32


def images(docs: list[dict]) -> set[str]:
    return {
        c["image"]
        for d in docs
        if policy.pod_labels(d).get("app.kubernetes.io/name") == "gold-platform"
        for c in policy.containers(d)
    }


def test_version_files_pin_the_service_and_the_mirrored_images():
    root = Path(__file__).resolve().parents[2] / "kustomize" / "overlays"
    for env in policy.ENVIRONMENTS:
        doc = yaml.safe_load((root / env / "version" / "kustomization.yaml").read_text())
        assert doc["apiVersion"] == "kustomize.config.k8s.io/v1alpha1"
        assert doc["kind"] == "Component"
        assert set(doc) == {"apiVersion", "kind", "images"}
        assert {i["name"]: i["newName"] for i in doc["images"]} == {
            "gold-platform": "ghcr.io/gold-platform/gold-platform",
            "docker.io/library/postgres": "ghcr.io/gold-platform/mirror/postgres",
            "docker.io/library/redis": "ghcr.io/gold-platform/mirror/redis",
        }


def test_bump_dev_then_promote_by_copying(tools: Tools, repo_copy: Path):
    overlays = repo_copy / "kustomize" / "overlays"
    # The GitOps bump: `kustomize edit set image` inside dev's version Component.
    result = subprocess.run(
        [
            tools.kustomize,
            "edit",
            "set",
            "image",
            f"gold-platform=ghcr.io/gold-platform/gold-platform:{SHA_TAG}",
        ],
        cwd=overlays / "dev" / "version",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert images(tools.build(overlays / "dev")) == {
        f"ghcr.io/gold-platform/gold-platform:{SHA_TAG}"
    }
    assert images(tools.build(overlays / "staging")) == {
        "ghcr.io/gold-platform/gold-platform:0.1.0"
    }

    # Promotion dev -> staging: copy the one file; nothing else in staging changes.
    before = tools.build(overlays / "staging")
    shutil.copy(
        overlays / "dev/version/kustomization.yaml", overlays / "staging/version/kustomization.yaml"
    )
    after = tools.build(overlays / "staging")
    assert images(after) == {f"ghcr.io/gold-platform/gold-platform:{SHA_TAG}"}
    strip = [yaml.safe_dump(d).replace(f":{SHA_TAG}", ":0.1.0") for d in after]
    assert strip == [yaml.safe_dump(d) for d in before]


def test_digest_pin_renders_and_validates(tools: Tools, repo_copy: Path):
    version = repo_copy / "kustomize/overlays/prod/version/kustomization.yaml"
    version.write_text(version.read_text().replace("newTag: 0.1.0", f"digest: {DIGEST}"))
    docs = tools.build(repo_copy / "kustomize/overlays/prod")
    assert images(docs) == {f"ghcr.io/gold-platform/gold-platform@{DIGEST}"}
    assert policy.RULES["backend-image"]("prod", docs) == []
    result = tools.validate(repo_copy, repo_copy / ".cache" / "rendered")
    assert result.returncode == 0, result.stdout + result.stderr
