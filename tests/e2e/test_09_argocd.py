"""Scenario 9: Argo CD syncs the cluster from git, for real.

The real application controller and repo server (scripts/cluster/argocd.sh)
read a git server that holds a clone of this repository whose only change is
argocd/'s repoURL. Bootstrap is what README tells a user: deploy-k8s.sh
applies the root app; Argo CD creates the AppProject and the Applications
and syncs dev. Then a release the way CI does it (the image-bump script's
commit), self-heal, and prune.

Needs Argo CD: `make e2e`, or `make cluster-up ARGOCD=1` then
`make e2e-scenarios` (GOLD_E2E_GIT_WORK_TREE names the git server's work tree).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import figure, fill_deployment
from tests.e2e.kube import (
    NAMESPACE,
    ROOT,
    api_pods,
    is_ready,
    kubectl,
    kubectl_json,
    render,
    wait_until,
)
from tests.e2e.load import in_cluster_load

WORK_TREE = Path(os.environ.get("GOLD_E2E_GIT_WORK_TREE", "/nonexistent"))
pytestmark = pytest.mark.skipif(
    not WORK_TREE.is_dir(), reason="needs Argo CD: make e2e, or make cluster-up ARGOCD=1"
)
DEV_APP = "gold-platform-dev"
# What Argo CD reports Progressing for ever on a cluster without an ingress
# controller and without cert-manager reaching its ACME server.
NEEDS_CLUSTER_ADDONS = {("networking.k8s.io", "Ingress"), ("cert-manager.io", "Issuer")}


def application(name: str = DEV_APP) -> dict:
    return kubectl_json("-n", "argocd", "get", "application", name)


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(WORK_TREE), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def refresh(name: str = DEV_APP) -> None:
    """What a git webhook does: ask Argo CD to look at git now."""
    kubectl(
        "-n", "argocd", "annotate", "application", name,
        "argocd.argoproj.io/refresh=normal", "--overwrite",
    )  # fmt: skip


def synced_at(revision: str):
    def check():
        app = application()
        status = app.get("status", {})
        op = status.get("operationState", {})
        return (
            status.get("sync", {}).get("status") == "Synced"
            and status.get("sync", {}).get("revision") == revision
            and op.get("phase") == "Succeeded"
            and op.get("syncResult", {}).get("revision") == revision
            and app
        )

    return check


def rolled_out(image: str):
    def check():
        d = kubectl_json("-n", NAMESPACE, "get", "deployment", "gold-platform")
        s = d.get("status", {})
        want = d["spec"]["replicas"]
        return (
            d["spec"]["template"]["spec"]["containers"][0]["image"] == image
            and s.get("observedGeneration") == d["metadata"]["generation"]
            and s.get("updatedReplicas") == want == s.get("readyReplicas")
            and s.get("replicas") == want
        )

    return check


class OperationWatcher:
    """Polls the dev Application and records the order in which Argo CD's
    operation state first lists each resource (its own view of the sync)."""

    def __init__(self) -> None:
        self.order: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                app = application()
            except AssertionError:
                app = {}
            results = app.get("status", {}).get("operationState", {}).get("syncResult", {})
            for r in results.get("resources", []):
                key = (r["kind"], r["name"])
                if key not in self.order:
                    self.order.append(key)
            self._stop.wait(0.3)

    def __enter__(self) -> OperationWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def waves_of_dev() -> dict[tuple[str, str], int]:
    docs = [d for d in yaml.safe_load_all(render(WORK_TREE / "kustomize/overlays/dev")) if d]
    return {
        (d["kind"], d["metadata"]["name"]): int(
            (d["metadata"].get("annotations") or {}).get("argocd.argoproj.io/sync-wave", "0")
        )
        for d in docs
    }


def test_1_bootstrap_syncs_dev_in_wave_order_and_replaces_the_hook(deployment):
    # Start from nothing: an earlier bootstrap (the Applications' finalizers
    # delete what they deployed) and the direct-deploy scenarios' namespace.
    kubectl("-n", "argocd", "delete", "application", "gold-platform-root", "--ignore-not-found")
    for app in kubectl_json("-n", "argocd", "get", "applications")["items"]:
        if app.get("status", {}).get("operationState", {}).get("phase") == "Running":
            terminate = {"status": {"operationState": {"phase": "Terminating"}}}
            kubectl(
                "-n", "argocd", "patch", "application", app["metadata"]["name"],
                "--type", "merge", "-p", json.dumps(terminate),
            )  # fmt: skip
    kubectl(
        "-n", "argocd", "delete", "applications", "--all", "--wait=true", timeout=300
    )  # fmt: skip
    for namespace in (NAMESPACE, "gold-platform-staging", "gold-platform-prod"):
        kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", timeout=300)

    started = time.monotonic()
    with OperationWatcher() as watcher:
        bootstrap = subprocess.run(
            [str(WORK_TREE / "scripts" / "deploy-k8s.sh")],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert bootstrap.returncode == 0, bootstrap.stdout + bootstrap.stderr
        head = git("rev-parse", "HEAD")
        wait_until(
            "the root app created the project and the Applications",
            lambda: (
                {
                    a["metadata"]["name"]
                    for a in kubectl_json("-n", "argocd", "get", "applications")["items"]
                }
                >= {"gold-platform-root", DEV_APP, "gold-platform-staging", "gold-platform-prod"}
            ),
            180,
        )
        kubectl_json("-n", "argocd", "get", "appproject", "gold-platform")
        app = wait_until("dev Synced at the git server's HEAD", synced_at(head), 600)
        wait_until("the backend Ready", lambda: any(is_ready(p) for p in api_pods()), 300)
    synced_s = time.monotonic() - started

    # Every resource Synced; every one Healthy except what waits on add-ons
    # this cluster does not run (no ingress controller, no cert-manager).
    app = application()
    resources = app["status"]["resources"]
    assert all(r.get("status") == "Synced" for r in resources if not r.get("hook")), resources
    unhealthy = {
        (r.get("group", ""), r["kind"])
        for r in resources
        if r.get("health", {}).get("status") not in (None, "Healthy")
    }
    assert unhealthy <= NEEDS_CLUSTER_ADDONS, unhealthy
    for kind in ("Deployment", "StatefulSet"):
        assert all(r["health"]["status"] == "Healthy" for r in resources if r["kind"] == kind), (
            resources
        )

    # The waves, in the order Argo CD's operation state listed the resources.
    waves = waves_of_dev()
    seen = [waves[key] for key in watcher.order if key in waves]
    assert len(seen) >= 10, watcher.order
    assert seen == sorted(seen), list(zip(watcher.order, seen, strict=False))

    # The migration hook ran once; the next sync replaces it (one Job, new uid).
    jobs = kubectl_json("-n", NAMESPACE, "get", "jobs")["items"]
    assert [j["metadata"]["name"] for j in jobs] == ["gold-platform-migrate"]
    assert jobs[0]["status"].get("succeeded") == 1
    first_uid = jobs[0]["metadata"]["uid"]
    finished = app["status"]["operationState"]["finishedAt"]
    operation = {"operation": {"initiatedBy": {"username": "e2e"}, "sync": {"revision": head}}}
    kubectl(
        "-n",
        "argocd",
        "patch",
        "application",
        DEV_APP,
        "--type",
        "merge",
        "-p",
        json.dumps(operation),
    )
    wait_until(
        "the second sync finished",
        lambda: (
            application()["status"]["operationState"].get("finishedAt", "") > finished
            and application()["status"]["operationState"]["phase"] == "Succeeded"
        ),
        300,
    )
    jobs = kubectl_json("-n", NAMESPACE, "get", "jobs")["items"]
    assert len(jobs) == 1 and jobs[0]["metadata"]["uid"] != first_uid
    assert jobs[0]["status"].get("succeeded") == 1

    # A partner and a KYC'd load customer in this fresh database.
    deployment.partner_key = deployment.user_id = deployment.load_user_id = ""
    fill_deployment(deployment)

    health = app["status"]["health"]["status"]
    figure("9.1 Argo CD bootstrap: root app to dev Synced", f"{synced_s:.0f} s")
    figure(
        "9.1 Argo CD dev health",
        f"{health}: workloads Healthy; {', '.join(sorted(k for _, k in unhealthy)) or 'nothing'} "
        "Progressing (no ingress controller / cert-manager here)",
    )
    figure("9.1 Argo CD waves in order", " ".join(str(w) for w in seen))


def test_2_release_by_image_bump_rolls_out_without_a_failed_request(deployed):
    digest = (ROOT / ".state" / "cluster-images" / "next-release.digest").read_text().strip()
    with in_cluster_load(
        "e2e-load-argocd-release",
        partner_key=deployed.partner_key,
        operator_key=deployed.operator_key,
        user_id=deployed.load_user_id,
    ) as load:
        bump = subprocess.run(
            [str(WORK_TREE / "scripts" / "gitops" / "bump-image.sh"), "--commit", digest],
            cwd=WORK_TREE,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert bump.returncode == 0, bump.stdout + bump.stderr
        committed = time.monotonic()
        git("push", "--quiet", "origin", "HEAD")
        refresh()
        image = f"ghcr.io/gold-platform/gold-platform@{digest}"
        wait_until("the release rolled out", rolled_out(image), 600)
        rolled_s = time.monotonic() - committed
        wait_until("dev Synced at the bump", synced_at(git("rev-parse", "HEAD")), 300)
        summary = load.stop()
    assert summary["sent"] >= 50, summary
    assert summary["failed"] == 0, summary
    figure(
        "9.2 Argo CD release: commit to rolled out / requests failed",
        f"{rolled_s:.0f} s / {summary['failed']} of {summary['sent']}",
    )


def test_3_self_heal_reverts_a_hand_edit(deployed):
    kubectl("-n", NAMESPACE, "scale", "deployment/gold-platform", "--replicas=3")
    started = time.monotonic()
    wait_until(
        "self-heal back to the overlay's one replica",
        lambda: (
            kubectl_json("-n", NAMESPACE, "get", "deployment", "gold-platform")["spec"]["replicas"]
            == 1
        ),
        180,
        interval=0.5,
    )
    figure("9.3 Argo CD self-heal of a hand scale to 3", f"{time.monotonic() - started:.0f} s")


def test_4_prune_removes_what_git_removed_but_never_the_database_claim(deployed):
    claim = kubectl_json("-n", NAMESPACE, "get", "pvc", "data-postgres-0")
    kustomization = WORK_TREE / "kustomize" / "base" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("  - backend/pdb.yaml\n", ""))
    git("commit", "--quiet", "-am", "e2e: remove the backend's PodDisruptionBudget")
    git("push", "--quiet", "origin", "HEAD")
    started = time.monotonic()
    refresh()

    def pruned() -> bool:
        found = kubectl("-n", NAMESPACE, "get", "pdb", "-o", "name")
        return "gold-platform" not in found

    wait_until("the PodDisruptionBudget pruned", pruned, 300)
    pruned_s = time.monotonic() - started
    wait_until("dev Synced after the prune", synced_at(git("rev-parse", "HEAD")), 300)
    still = kubectl_json("-n", NAMESPACE, "get", "pvc", "data-postgres-0")
    assert still["metadata"]["uid"] == claim["metadata"]["uid"]
    assert still["status"]["phase"] == "Bound"
    assert any(is_ready(p) for p in api_pods())
    figure(
        "9.4 Argo CD prune of a resource removed in git", f"{pruned_s:.0f} s; PostgreSQL claim kept"
    )
