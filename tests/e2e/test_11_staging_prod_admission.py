"""Scenario 11: staging and prod, as far as a cluster without their secret
store and operators can take them: every object accepted by the API server
(server-side dry run, real CRDs installed), in namespaces labelled as Argo CD
labels them, and every pod they would create admitted under Pod Security
`restricted` (a server dry run of the Pod objects themselves, which runs
admission), while a pod that breaks `restricted` is refused there.

Where the cluster runs the signed-image chain (make e2e: a registry, cosign,
policy-controller, and the admission policies Argo CD synced in scenario 10),
the overlays are admitted with their images as a release leaves them (in the
registry, signed, by digest), and refused as they are in git today (by tag);
an image signed with another key, unsigned, or from another registry is
refused by policy-controller; and a signed image is pulled from the registry
and runs."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import figure
from tests.e2e.kube import ROOT, KubectlError, kubectl, kubectl_json, render, signed_images

POD_TEMPLATES = {"Deployment", "StatefulSet", "Job"}
SIGNED = signed_images()
needs_signing = pytest.mark.skipif(
    not SIGNED, reason="needs the signed-image chain: make e2e, or make cluster-up ARGOCD=1"
)
# The images the overlays name, and the entry of sign-images.sh's record
# that stands for each.
RELEASED = {
    "ghcr.io/gold-platform/gold-platform": "APP",
    "ghcr.io/gold-platform/mirror/postgres": "POSTGRES",
    "ghcr.io/gold-platform/mirror/redis": "REDIS",
}


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


def as_released(env: str, tmp_path: Path) -> Path:
    """env's overlay with its images as a release and the mirror leave them:
    in the registry, signed, by digest (what promotion would write)."""
    images = "".join(
        f"  - name: {name}\n    newName: {SIGNED[key].split('@')[0]}\n"
        f"    digest: {SIGNED[key].split('@')[1]}\n"
        for name, key in RELEASED.items()
    )
    base = os.path.relpath(ROOT / "kustomize" / "overlays" / env, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {base}\nimages:\n{images}"
    )
    return tmp_path


def server_dry_run(document: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["kubectl", "create", "--dry-run=server", "-f", "-"],
        input=json.dumps(document), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def backend(documents: list[dict]) -> dict:
    (deployment,) = [
        d
        for d in documents
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "gold-platform"
    ]
    return deployment


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


@pytest.fixture(scope="module", autouse=True)
def remove_namespaces_afterwards():
    yield
    for env in ("staging", "prod"):
        kubectl("delete", "namespace", f"gold-platform-{env}", "--ignore-not-found", "--wait=false")


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_overlay_accepted_and_its_pods_admitted_under_restricted(env, tmp_path: Path):
    namespace = namespace_from_argocd(env)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    kubectl("apply", "--server-side", "-f", "-", input=json.dumps(namespace))

    overlay = as_released(env, tmp_path) if SIGNED else ROOT / "kustomize" / "overlays" / env
    rendered = render(overlay)
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    # Argo CD (scenario 10) may manage these objects already: a dry run takes
    # its fields over without changing anything.
    out = kubectl(
        "apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", "-", input=rendered
    )
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

    figure(
        f"11 {env}: server dry run / pods admitted under restricted",
        f"{len(documents)} objects accepted, {len(pods)} pods admitted"
        + (" (signed images by digest)" if SIGNED else "")
        + ", a root pod refused",
    )


@needs_signing
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_images_by_tag_unsigned_or_foreign_are_refused(env, tmp_path: Path):
    namespace = namespace_from_argocd(env)
    assert namespace["metadata"]["labels"]["policy.sigstore.dev/include"] == "true"
    kubectl("apply", "--server-side", "-f", "-", input=json.dumps(namespace))
    signed = backend(yaml.safe_load_all(render(as_released(env, tmp_path))))
    admitted = server_dry_run(signed)
    assert admitted.returncode == 0, admitted.stderr

    # As git has it today: by tag. The digest policy refuses it.
    shipped = backend(yaml.safe_load_all(render(ROOT / "kustomize" / "overlays" / env)))
    refused = server_dry_run(shipped)
    assert refused.returncode != 0, refused.stdout
    assert "must be pinned by sha256 digest" in refused.stderr, refused.stderr

    # By digest, but not signed by the release key: policy-controller refuses.
    refusals = {}
    for case in ("OTHER_KEY", "UNSIGNED"):
        candidate = copy.deepcopy(signed)
        spec = candidate["spec"]["template"]["spec"]
        for c in spec.get("initContainers", []) + spec["containers"]:
            c["image"] = SIGNED[case]
        refused = server_dry_run(candidate)
        assert refused.returncode != 0, refused.stdout
        assert 'admission webhook "policy.sigstore.dev" denied the request' in refused.stderr
        assert "signature" in refused.stderr, refused.stderr
        refusals[case] = refused.stderr.strip().splitlines()[-1][:160]
    # A digest from a registry no policy covers (no-match-policy: deny).
    foreign = copy.deepcopy(signed)
    foreign["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "docker.io/library/redis@" + SIGNED["REDIS"].split("@")[1]
    )
    refused = server_dry_run(foreign)
    assert refused.returncode != 0, refused.stdout
    assert "no matching policies" in refused.stderr, refused.stderr
    figure(
        f"11 {env}: refused at admission",
        "by tag (digest policy); signed by another key, unsigned, another registry "
        "(policy-controller)",
    )


@needs_signing
def test_a_signed_image_is_pulled_from_the_registry_and_runs(tmp_path: Path):
    namespace = namespace_from_argocd("staging")
    kubectl("apply", "--server-side", "-f", "-", input=json.dumps(namespace))
    documents = list(yaml.safe_load_all(render(as_released("staging", tmp_path))))
    (redis,) = [
        d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "redis"
    ]
    redis["metadata"]["name"] = "signed-image-run"
    kubectl("apply", "--server-side", "-f", "-", input=json.dumps(redis))
    name = f"deployment/{redis['metadata']['name']}"
    try:
        kubectl(
            "-n", "gold-platform-staging", "rollout", "status", name, "--timeout=180s", timeout=200
        )
        (pod,) = [
            p
            for p in kubectl_json("-n", "gold-platform-staging", "get", "pods")["items"]
            if p["metadata"]["name"].startswith("signed-image-run-")
            and "deletionTimestamp" not in p["metadata"]
        ]
        status = pod["status"]["containerStatuses"][0]
        assert status["ready"], status
        assert status["imageID"].endswith(SIGNED["REDIS"].split("@")[1]), status
    finally:
        kubectl("-n", "gold-platform-staging", "delete", name, "--wait=false")
    figure("11 staging: a signed image by digest", "pulled from the registry by the kubelet, Ready")


def test_argocd_objects_accepted_without_a_warning():
    """argocd/ as the API server sees it: accepted (real CRDs) and without
    the warning a finalizer name without a path used to cause."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "argocd"}}
    kubectl("apply", "--server-side", "-f", "-", input=json.dumps(namespace))
    for folder in ("bootstrap", "apps"):
        result = subprocess.run(
            ["kubectl", "apply", "--server-side", "--force-conflicts", "--dry-run=server",
             "-n", "argocd", "-f", str(ROOT / "argocd" / folder)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        # Objects scenario 10's bootstrap applied client-side carry kubectl's
        # last-applied annotation, which a server-side apply warns about.
        warnings = [
            line
            for line in result.stderr.splitlines()
            if "Warning" in line and "last-applied-configuration" not in line
        ]
        assert not warnings, result.stderr
