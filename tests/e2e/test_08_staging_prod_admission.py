"""Scenario 8: staging and prod, as far as a cluster without their registry,
secret store and operators can take them: every object accepted by the API
server (server-side dry run, real CRDs installed), in namespaces labelled as
Argo CD labels them, and every pod they would create admitted under Pod
Security `restricted` (a server dry run of the Pod objects themselves, which
runs admission), while a pod that breaks `restricted` is refused there."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import figure
from tests.e2e.kube import ROOT, KubectlError, kubectl, render

POD_TEMPLATES = {"Deployment", "StatefulSet", "Job"}


def namespace_from_argocd(env: str) -> dict:
    app = yaml.safe_load((ROOT / "argocd" / "apps" / f"{env}.yaml").read_text())
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": app["spec"]["destination"]["namespace"],
            "labels": app["spec"]["syncPolicy"]["managedNamespaceMetadata"]["labels"],
        },
    }


def pods_of(documents: list[dict]) -> list[dict]:
    pods = []
    for d in documents:
        template = d.get("spec", {}).get("jobTemplate", {}).get("spec", d.get("spec", {}))
        if d["kind"] not in POD_TEMPLATES and d["kind"] != "CronJob":
            continue
        template = copy.deepcopy(template["template"])
        # A StatefulSet's pods mount the claims made from its templates.
        for claim in d["spec"].get("volumeClaimTemplates", []):
            name = claim["metadata"]["name"]
            template["spec"].setdefault("volumes", []).append(
                {
                    "name": name,
                    "persistentVolumeClaim": {"claimName": f"{name}-{d['metadata']['name']}-0"},
                }
            )
        pods.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": f"{d['metadata']['name']}-admission",
                    "namespace": d["metadata"]["namespace"],
                    "labels": template["metadata"].get("labels", {}),
                },
                "spec": template["spec"],
            }
        )
    return pods


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_overlay_accepted_and_its_pods_admitted_under_restricted(env, tmp_path: Path):
    namespace = namespace_from_argocd(env)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    kubectl("apply", "--server-side", "-f", "-", input=json.dumps(namespace))

    rendered = render(ROOT / "kustomize" / "overlays" / env)
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    out = kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=rendered)
    assert out.count("serverside-applied (server dry run)") == len(documents), out

    # Pod admission looks up the pods' ServiceAccount: create those for real.
    accounts = [d for d in documents if d["kind"] == "ServiceAccount"]
    kubectl(
        "apply",
        "--server-side",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": accounts}),
    )
    pods = pods_of(documents)
    assert {p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods} >= {
        "api",
        "migrate",
        "database",
        "cache",
    }
    for pod in pods:
        kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod))

    # The check can fail: the same pod running as root is refused.
    rogue = copy.deepcopy(pods[0])
    rogue["metadata"]["name"] = "rogue-admission"
    rogue["spec"]["securityContext"] = {"runAsUser": 0}
    with pytest.raises(KubectlError, match="violates PodSecurity"):
        kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(rogue))

    kubectl("delete", "namespace", namespace["metadata"]["name"], "--wait=false")
    figure(
        f"8 {env}: server dry run / pods admitted under restricted",
        f"{len(documents)} objects accepted, {len(pods)} pods admitted, a root pod refused",
    )


def test_argocd_objects_accepted_without_a_warning():
    """argocd/ as the API server sees it: accepted (real CRDs) and without
    the warning a finalizer name without a path used to cause."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}
    kubectl("apply", "--server-side", "-f", "-", input=json.dumps(namespace))
    for folder in ("bootstrap", "apps"):
        result = subprocess.run(
            ["kubectl", "apply", "--server-side", "--dry-run=server", "-n", "argocd",
             "-f", str(ROOT / "argocd" / folder)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "Warning" not in result.stderr, result.stderr
