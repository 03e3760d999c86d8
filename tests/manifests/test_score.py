"""kube-score and checkov (scripts/manifests/score.sh, `make manifests-score`)
catch what the project's own policy rules no longer check: each test breaks
one rendered overlay the way a careless change would and expects the named
check of the tool to fail."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.manifests.conftest import ROOT, policy

SCORE = ROOT / "scripts" / "manifests" / "score.sh"

# Each run of checkov takes a few seconds.
pytestmark = pytest.mark.slow


def score(docs: list[dict], tmp_path: Path) -> subprocess.CompletedProcess:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    for tool in ("KUBE_SCORE", "CHECKOV"):
        if tool not in os.environ:
            pytest.fail(
                f"{tool} is not set: run the tests through make (make test, make manifests)"
            )
    return subprocess.run(
        [str(SCORE), str(rendered)], capture_output=True, text=True, check=False, timeout=300
    )


def findings(docs: list[dict], tmp_path: Path) -> str:
    result = score(docs, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stdout


def named(docs: list[dict], kind: str, name: str) -> dict:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def test_the_rendered_overlay_scores_clean(rendered, tmp_path):
    result = score(rendered["prod"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_writable_root_filesystem_is_caught(rendered, tmp_path):
    docs = copy.deepcopy(rendered["dev"])
    redis = named(docs, "Deployment", "redis")
    redis["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "readOnlyRootFilesystem"
    ] = False
    out = findings(docs, tmp_path)
    assert (
        "redis/gold-platform-dev apps/v1/Deployment: (redis) The pod has a container with a writable root filesystem"
        in out
    )
    assert "CKV_K8S_22" in out


def test_latest_tag_is_caught(rendered, tmp_path):
    docs = copy.deepcopy(rendered["prod"])
    for doc in policy.of_kind(docs, "Deployment", "Job"):
        for container in policy.containers(doc):
            if container["image"].startswith(policy.BACKEND_IMAGE):
                container["image"] = f"{policy.BACKEND_IMAGE}:latest"
    out = findings(docs, tmp_path)
    assert "gold-platform/gold-platform-prod apps/v1/Deployment: (api) Image with latest tag" in out
    assert (
        "gold-platform-migrate/gold-platform-prod batch/v1/Job: (migrate) Image with latest tag"
        in out
    )
    assert "CKV_K8S_14" in out


def test_replicas_under_an_hpa_is_caught(rendered, tmp_path):
    docs = copy.deepcopy(rendered["staging"])
    policy.backend(docs)["spec"]["replicas"] = 3
    out = findings(docs, tmp_path)
    assert "gold-platform/gold-platform-staging apps/v1/Deployment" in out
    assert "targeted by a HPA, but a static replica count is configured" in out


def test_missing_pod_disruption_budget_is_caught(rendered, tmp_path):
    docs = [d for d in copy.deepcopy(rendered["prod"]) if d["kind"] != "PodDisruptionBudget"]
    out = findings(docs, tmp_path)
    assert (
        "gold-platform/gold-platform-prod apps/v1/Deployment: No matching PodDisruptionBudget"
        in out
    )


def test_missing_probe_and_limits_are_caught(rendered, tmp_path):
    docs = copy.deepcopy(rendered["staging"])
    api = policy.backend(docs)["spec"]["template"]["spec"]["containers"][0]
    del api["readinessProbe"]
    del api["resources"]["limits"]
    out = findings(docs, tmp_path)
    assert "Container is missing a readinessProbe" in out
    assert "(api) CPU limit is not set" in out
    assert "(api) Memory limit is not set" in out
