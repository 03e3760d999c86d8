"""Scenario 10: Argo CD syncs the cluster from git, for real.

The real application controller, repo server and API server
(scripts/cluster/argocd.sh) read a git server that holds a clone of this
repository whose only change is argocd/'s repoURL; the cluster runs the
add-ons the manifests' health waits on (scripts/cluster/addons.sh: an
ingress controller and cert-manager). Bootstrap is what README tells a user:
deploy-k8s.sh applies the root app; Argo CD creates the AppProject and the
Applications and syncs dev to Synced and Healthy. Then a release the way CI
does it, self-heal, prune, the project's limits, the PR diff against Argo
CD's, and the prod gate with its freeze window.

Needs Argo CD: `make e2e`, or `make cluster-up ARGOCD=1` then
`make e2e-scenarios` (GOLD_E2E_GIT_WORK_TREE names the git server's work tree).
"""

from __future__ import annotations

import json
import os
import socket
import ssl
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
    database_counts,
    is_ready,
    kubectl,
    kubectl_json,
    render,
    secret_value,
    signed_images,
    wait_until,
)
from tests.e2e.load import in_cluster_load

WORK_TREE = Path(os.environ.get("GOLD_E2E_GIT_WORK_TREE", "/nonexistent"))
pytestmark = pytest.mark.skipif(
    not WORK_TREE.is_dir(), reason="needs Argo CD: make e2e, or make cluster-up ARGOCD=1"
)
DEV_APP = "gold-platform-dev"
INGRESS_HTTPS_PORT = 18443  # the ingress controller on 127.0.0.1 (scripts/cluster/cluster.env)


def application(name: str = DEV_APP) -> dict:
    return kubectl_json("-n", "argocd", "get", "application", name)


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(WORK_TREE), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def run_gitops_script(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run one of the project's scripts/gitops/ in the git server's work tree."""
    return subprocess.run(
        [str(WORK_TREE / "scripts" / "gitops" / name), *args],
        cwd=WORK_TREE,
        env={**os.environ, "KUSTOMIZE": str(ROOT / ".tools" / "bin" / "kustomize")},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def gitops_script(name: str, *args: str, timeout: float = 120) -> str:
    done = run_gitops_script(name, *args, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def refresh(name: str = DEV_APP) -> None:
    """What a git webhook does: ask Argo CD to look at git now."""
    kubectl(
        "-n", "argocd", "annotate", "application", name,
        "argocd.argoproj.io/refresh=normal", "--overwrite",
    )  # fmt: skip


def served_certificate(host: str) -> bytes:
    """The certificate the ingress controller presents for `host` (DER)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # self-signed: compared byte for byte instead
    with socket.create_connection(("127.0.0.1", INGRESS_HTTPS_PORT), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            return tls.getpeercert(binary_form=True)


def settle(revision: str) -> dict:
    """Wait until dev is Synced at `revision`, Healthy, its operation over."""

    def done():
        app = application()
        status = app.get("status", {})
        return (
            status.get("sync", {}).get("status") == "Synced"
            and status.get("sync", {}).get("revision") == revision
            and status.get("health", {}).get("status") == "Healthy"
            and status.get("operationState", {}).get("phase")
            not in (None, "Running", "Terminating")
            and app
        )

    return wait_until(f"dev Synced at {revision[:8]} and Healthy", done, 600)


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
        wait_until("the backend Ready", lambda: any(is_ready(p) for p in api_pods()), 600)
        app = settle(head)
    synced_s = time.monotonic() - started

    # Every resource Synced and Healthy, nothing faked: the Ingress has the
    # ingress controller's address, the Issuer is Ready.
    resources = app["status"]["resources"]
    assert app["status"]["health"]["status"] == "Healthy", app["status"]["health"]
    assert all(r.get("status") == "Synced" for r in resources if not r.get("hook")), resources
    assert all(r.get("health", {}).get("status", "Healthy") == "Healthy" for r in resources), (
        resources
    )
    kinds = {r["kind"] for r in resources}
    assert {"Deployment", "StatefulSet", "Ingress", "Issuer"} <= kinds, kinds
    ingress = kubectl_json("-n", NAMESPACE, "get", "ingress", "gold-platform")
    assert ingress["status"]["loadBalancer"]["ingress"] == [{"ip": "127.0.0.1"}], ingress["status"]

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
    operation = {"operation": {"initiatedBy": {"username": "e2e"}, "sync": {"revision": head}}}
    kubectl("-n", "argocd", "patch", "application", DEV_APP, "--type", "merge",
            "-p", json.dumps(operation))  # fmt: skip

    def replaced():
        jobs = kubectl_json("-n", NAMESPACE, "get", "jobs")["items"]
        return (
            len(jobs) == 1
            and jobs[0]["metadata"]["uid"] != first_uid
            and jobs[0]["status"].get("succeeded") == 1
        )

    wait_until("the second sync replaced the migration hook", replaced, 300)
    settle(head)

    # A partner and a KYC'd load customer in this fresh database.
    deployment.partner_key = deployment.user_id = deployment.load_user_id = ""
    fill_deployment(deployment)

    # HTTPS through the ingress controller, which serves the certificate
    # cert-manager issued from dev's Issuer into the Ingress's TLS Secret.
    host = ingress["spec"]["rules"][0]["host"]
    issued = ssl.PEM_cert_to_DER_cert(secret_value("gold-platform-tls", "tls.crt"))
    assert served_certificate(host) == issued

    # Only the API is routed: its OpenAPI document answers, the probes and
    # the metrics are not reachable through the ingress controller.
    def through_ingress(path: str) -> str:
        done = subprocess.run(
            ["curl", "-sS", "--insecure", "-o", "/dev/null", "-w", "%{http_code}",
             "--resolve", f"{host}:{INGRESS_HTTPS_PORT}:127.0.0.1",
             f"https://{host}:{INGRESS_HTTPS_PORT}{path}"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert through_ingress("/v1/openapi.json") == "200"
    assert {p: through_ingress(p) for p in ("/health/ready", "/metrics")} == {
        "/health/ready": "404",
        "/metrics": "404",
    }

    figure("10.1 Argo CD bootstrap: root app to dev Synced and Healthy", f"{synced_s:.0f} s")
    figure(
        "10.1 Argo CD dev over HTTPS",
        f"https://{host}/v1 through the ingress controller (probes and metrics 404), "
        "cert-manager's certificate",
    )
    figure("10.1 Argo CD waves in order", " ".join(str(w) for w in seen))


def test_2_release_by_image_bump_rolls_out_without_a_failed_request(deployed):
    # The next release as the release workflow leaves it: pushed to the
    # registry and signed; dev's pod pulls it from there.
    image = signed_images()["NEXT"]
    with in_cluster_load(
        "e2e-load-argocd-release",
        partner_key=deployed.partner_key,
        operator_key=deployed.operator_key,
        user_id=deployed.load_user_id,
    ) as load:
        gitops_script("bump-image.sh", "--commit", image)
        committed = time.monotonic()
        git("push", "--quiet", "origin", "HEAD")
        refresh()
        wait_until("the release rolled out", rolled_out(image), 600)
        rolled_s = time.monotonic() - committed
        settle(git("rev-parse", "HEAD"))
        summary = load.stop()
    assert summary["sent"] >= 50, json.dumps(summary)
    assert summary["failed"] == 0, json.dumps(summary)
    figure(
        "10.2 Argo CD release: commit to rolled out / requests failed",
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
    healed_s = time.monotonic() - started
    settle(git("rev-parse", "HEAD"))
    figure("10.3 Argo CD self-heal of a hand scale to 3", f"{healed_s:.0f} s")


def commit_and_push(message: str, *paths: str) -> str:
    """Commit the work tree's edits of `paths` and push them to the git server."""
    git("add", "--", *paths)
    git("commit", "--quiet", "-m", message)
    git("push", "--quiet", "origin", "HEAD")
    return git("rev-parse", "HEAD")


def revert_and_push(app: str = DEV_APP, commit: str = "HEAD") -> str:
    """Revert a commit (the last one), push, and tell Argo CD (as a webhook would)."""
    git("revert", "--no-edit", commit)
    git("push", "--quiet", "origin", "HEAD")
    refresh(app)
    return git("rev-parse", "HEAD")


def edit(path: str, old: str, new: str) -> None:
    file = WORK_TREE / path
    text = file.read_text()
    assert old in text, f"{path} no longer contains {old!r}"
    file.write_text(text.replace(old, new, 1))


def argocd_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The argocd CLI, logged in to the local API server (ARGOCD_OPTS)."""
    return subprocess.run(
        ["argocd", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


DEV_KUSTOMIZATION = "kustomize/overlays/dev/kustomization.yaml"


def test_4_prune_removes_what_git_dropped_and_keeps_the_database_claim(deployed):
    claim = kubectl_json("-n", NAMESPACE, "get", "pvc", "data-postgres-0")
    partners_before = database_counts()["partners"]
    edit(
        DEV_KUSTOMIZATION,
        "patches:\n",
        "patches:\n  - patch: |-\n      $patch: delete\n      apiVersion: policy/v1\n"
        "      kind: PodDisruptionBudget\n      metadata:\n        name: gold-platform\n",
    )
    revision = commit_and_push("dev: drop the backend's PodDisruptionBudget", DEV_KUSTOMIZATION)
    started = time.monotonic()
    refresh()
    wait_until(
        "the PodDisruptionBudget pruned",
        lambda: not kubectl_json("-n", NAMESPACE, "get", "pdb")["items"],
        300,
    )
    pruned_s = time.monotonic() - started
    settle(revision)
    kept = kubectl_json("-n", NAMESPACE, "get", "pvc", "data-postgres-0")
    assert kept["metadata"]["uid"] == claim["metadata"]["uid"]
    assert "deletionTimestamp" not in kept["metadata"]
    assert database_counts()["partners"] == partners_before
    # Argo CD does not even track the database claim (the StatefulSet's
    # template makes it); the one claim it tracks, the backups', it never prunes.
    claims = {
        r["name"]
        for r in application()["status"]["resources"]
        if r["kind"] == "PersistentVolumeClaim"
    }
    assert claims == {"postgres-backups"}, claims

    settle(revert_and_push())
    wait_until(
        "the PodDisruptionBudget back",
        lambda: kubectl_json("-n", NAMESPACE, "get", "pdb")["items"],
        300,
    )
    figure(
        "10.4 Argo CD prune of a resource dropped in git", f"{pruned_s:.0f} s; database claim kept"
    )


def operation_messages(app: dict) -> str:
    """Argo CD's messages of the last (or running, retrying) operation."""
    state = app.get("status", {}).get("operationState", {})
    messages = [state.get("message", "")]
    messages += [r.get("message", "") for r in state.get("syncResult", {}).get("resources", [])]
    return " ".join(messages)


def test_5_the_project_refuses_kinds_and_destinations_outside_its_limits(deployed):
    role = "kustomize/overlays/dev/e2e-role.yaml"
    (WORK_TREE / role).write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: e2e-outside\n"
        "rules:\n  - apiGroups: ['']\n    resources: [secrets]\n    verbs: [get]\n"
    )
    edit(DEV_KUSTOMIZATION, "  - ../../base\n", "  - ../../base\n  - e2e-role.yaml\n")
    revision = commit_and_push(
        "dev: a Role (not in the project's whitelist)", role, DEV_KUSTOMIZATION
    )
    refresh()

    def refused():
        app = application()
        message = operation_messages(app)
        at_revision = app["status"]["operationState"].get("syncResult", {}).get("revision")
        return at_revision == revision and "not permitted" in message and message

    message = wait_until("the sync with a Role refused", refused, 300)
    assert "is not permitted in project gold-platform" in message, message
    assert not kubectl_json("-n", NAMESPACE, "get", "roles")["items"]
    settle(revert_and_push())

    outside = "argocd/apps/e2e-outside.yaml"
    (WORK_TREE / outside).write_text(
        yaml.safe_dump(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": "e2e-outside", "namespace": "argocd"},
                "spec": {
                    "project": "gold-platform",
                    "source": application()["spec"]["source"],
                    "destination": {
                        "server": "https://kubernetes.default.svc",
                        "namespace": "kube-system",
                    },
                },
            }
        )
    )
    commit_and_push("argocd: an Application outside the project's namespaces", outside)
    refresh("gold-platform-root")

    def invalid():
        app = kubectl_json("-n", "argocd", "get", "application", "e2e-outside")
        return " ".join(
            c["message"]
            for c in app.get("status", {}).get("conditions", [])
            if c["type"] == "InvalidSpecError"
        )

    message = wait_until("the Application outside the project flagged", invalid, 300)
    assert "kube-system" in message and "gold-platform" in message, message
    assert "do not match any of the allowed destinations" in message, message
    # A sync by hand is refused too: the operation ends in Error, nothing applied.
    sync = argocd_cli("app", "sync", "e2e-outside", "--async")
    assert sync.returncode == 0, sync.stderr

    def sync_refused():
        app = kubectl_json("-n", "argocd", "get", "application", "e2e-outside")
        state = app.get("status", {}).get("operationState", {})
        return state.get("phase") == "Error" and state.get("message", "")

    assert "do not match any of the allowed destinations" in wait_until(
        "the sync by hand refused", sync_refused, 120
    )
    # The root app does not prune (argocd/bootstrap/root.yaml): a person deletes it.
    revert_and_push("gold-platform-root")
    kubectl("-n", "argocd", "delete", "application", "e2e-outside", "--wait=true")
    figure("10.5 Argo CD project limits", "Role refused; kube-system destination refused")


def changed_lines(diff: str) -> list[str]:
    """The added and removed lines of a unified diff, without their indentation."""
    lines = []
    for line in diff.splitlines():
        if not line or line.startswith(("+++", "---")):
            continue
        if line[0] in "+-" or line[:2] in ("> ", "< "):
            sign = "+" if line[0] in "+>" else "-"
            lines.append(sign + line[1:].strip())
    return sorted(lines)


def test_6_the_pr_diff_agrees_with_argo_cds_diff(deployed):
    git("checkout", "--quiet", "-b", "e2e-pr")
    try:
        edit(DEV_KUSTOMIZATION, "    count: 1\n", "    count: 2\n")
        edit(
            DEV_KUSTOMIZATION,
            "value: dev.gold-platform.example.com\n",
            "value: pr.gold-platform.example.com\n",
        )
        edit(
            DEV_KUSTOMIZATION,
            "value: dev.gold-platform.example.com\n",
            "value: pr.gold-platform.example.com\n",
        )
        pr_head = commit_and_push(
            "dev: two replicas and another host (a pull request)", DEV_KUSTOMIZATION
        )
        ours = gitops_script("diff-overlays.sh", "main", "e2e-pr", timeout=300)
        dev_section = ours.split("== dev: ", 1)[1].split("\n== ", 1)[0]
        # A pull request's check knows its head commit (Argo CD does not
        # resolve a branch pushed a moment ago: its ref cache lags).
        theirs = argocd_cli("app", "diff", DEV_APP, "--revision", pr_head)
        # argocd app diff exits 1 when there is a difference, 2 on error.
        assert theirs.returncode == 1, theirs.stdout + theirs.stderr
    finally:
        git("checkout", "--quiet", "main")
        git("push", "--quiet", "origin", "--delete", "e2e-pr")
        git("branch", "--quiet", "-D", "e2e-pr")

    assert changed_lines(dev_section) == changed_lines(theirs.stdout), (dev_section, theirs.stdout)
    headers = sorted(line for line in theirs.stdout.splitlines() if line.startswith("====="))
    assert len(headers) == 2 and "Deployment" in headers[0] + headers[1], headers
    assert "Ingress" in headers[0] + headers[1], headers
    figure(
        "10.6 PR diff vs argocd app diff", f"same {len(changed_lines(theirs.stdout))} changed lines"
    )


PROD_APP = "gold-platform-prod"
PROJECT_FILE = "argocd/apps/project.yaml"
FRIDAY_FREEZE = 'schedule: "0 17 * * 5"'


def freeze_window_status() -> str:
    listing = argocd_cli("proj", "windows", "list", "gold-platform")
    assert listing.returncode == 0, listing.stderr
    return listing.stdout.splitlines()[1].split()[1]  # row 0: ID, STATUS, ...


def prod_pin() -> str:
    app = yaml.safe_load((WORK_TREE / "argocd/apps/prod.yaml").read_text())
    return app["spec"]["source"]["targetRevision"]


def test_7_prod_runs_the_promoted_commit_when_a_person_syncs_outside_the_freeze(deployed):
    # Staging and prod take images by digest only, and dev still names
    # PostgreSQL and Redis by tag: promotion refuses.
    refused = run_gitops_script("promote.sh", "--commit", "staging")
    assert refused.returncode != 0, refused.stdout
    assert "docker.io/library/postgres,docker.io/library/redis by tag" in refused.stderr
    assert git("status", "--porcelain") == ""
    # The mirror workflow's part: dev pinned to the signed mirror's digests.
    signed = signed_images()
    for name, key in (
        ("docker.io/library/postgres", "POSTGRES"),
        ("docker.io/library/redis", "REDIS"),
    ):
        gitops_script("bump-image.sh", "--commit", "--name", name, signed[key])
    git("push", "--quiet", "origin", "HEAD")
    refresh()
    settle(git("rev-parse", "HEAD"))
    running = {
        c["image"]
        for p in kubectl_json("-n", NAMESPACE, "get", "pods")["items"]
        if p["status"].get("phase") == "Running"
        for c in p["spec"]["containers"]
    }
    assert {signed["POSTGRES"], signed["REDIS"], signed["NEXT"]} <= running, running

    # A release promoted the way the project does it: dev -> staging -> prod.
    # prod's promotion is two commits: the version file, then prod's
    # Application pinned to that commit.
    gitops_script("promote.sh", "--commit", "staging")
    gitops_script("promote.sh", "--commit", "prod")
    promoted = git("rev-parse", "HEAD~1")
    assert prod_pin() == promoted
    git("push", "--quiet", "origin", "HEAD")
    refresh("gold-platform-root")  # it carries prod's Application, and so the pin

    def compared_at_promoted():
        app = application(PROD_APP)
        return (
            app["spec"]["source"]["targetRevision"] == promoted
            and app.get("status", {}).get("sync", {}).get("revision") == promoted
            and app
        )

    app = wait_until("prod pinned and compared at the promoted commit", compared_at_promoted, 180)
    assert app["status"]["sync"]["status"] == "OutOfSync"
    assert "operationState" not in app["status"], app["status"]["operationState"]
    assert not kubectl_json("-n", "gold-platform-prod", "get", "deployments")["items"]

    # main moves on: a base change merged after the promotion is not prod's.
    base = "kustomize/base/backend/deployment.yaml"
    edit(base, "revisionHistoryLimit: 5", "revisionHistoryLimit: 6")
    unpromoted = commit_and_push("base: keep one more ReplicaSet (not promoted)", base)
    refresh(PROD_APP)

    # The freeze, moved to now: the same deny window, starting two minutes ago.
    start = time.gmtime(time.time() - 120)
    edit(PROJECT_FILE, FRIDAY_FREEZE, f'schedule: "{start.tm_min} {start.tm_hour} * * *"')
    commit_and_push("argocd: freeze prod now", PROJECT_FILE)
    refresh("gold-platform-root")
    wait_until("the freeze window active", lambda: freeze_window_status() == "Active", 180)
    deployment = "apps:Deployment:gold-platform-prod/gold-platform"
    refused = argocd_cli("app", "sync", PROD_APP, "--resource", deployment)
    assert refused.returncode != 0, refused.stdout
    assert "blocked by sync window" in refused.stdout + refused.stderr, refused.stderr
    assert "operationState" not in application(PROD_APP)["status"]
    assert application(PROD_APP)["status"]["sync"]["revision"] == promoted

    revert_and_push("gold-platform-root")
    wait_until("the freeze lifted", lambda: freeze_window_status() == "Inactive", 180)
    # The manual sync deploys the promoted commit, not main's tip. Only the
    # backend's Deployment: prod's Secret comes from External Secrets, which
    # this cluster does not run, so a whole prod sync waits at its first wave.
    synced = argocd_cli("app", "sync", PROD_APP, "--resource", deployment, "--timeout", "120")
    prod = kubectl_json("-n", "gold-platform-prod", "get", "deployment", "gold-platform")
    image = prod["spec"]["template"]["spec"]["containers"][0]["image"]
    state = application(PROD_APP)["status"]["operationState"]
    kubectl("delete", "namespace", "gold-platform-prod", "--wait=true", timeout=300)
    settle(revert_and_push(commit=unpromoted))
    assert state["phase"] == "Succeeded", synced.stdout + synced.stderr
    assert state["syncResult"]["revision"] == promoted != git("rev-parse", "HEAD"), state
    assert prod["spec"]["revisionHistoryLimit"] == 5, "an unpromoted base change reached prod"
    # Admitted in prod's namespace: signed by digest (policy-controller).
    assert image == signed["NEXT"], image
    figure(
        "10.7 Argo CD prod gate",
        "pinned to the promoted commit (main's later base change not deployed); "
        "OutOfSync until synced by hand; refused in the freeze window; "
        "tags refused by promotion, the signed mirror's digests promoted",
    )


def pod(image: str, *, hardened: bool) -> str:
    """A pod Pod Security "restricted" admits; `hardened` adds what only the
    admission policies ask for (read-only root, limits) to a pinned image."""
    container = {
        "name": "main",
        "image": image,
        "command": ["sleep", "3600"],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    if hardened:
        container["securityContext"]["readOnlyRootFilesystem"] = True
        container["resources"] = {"limits": {"cpu": "100m", "memory": "64Mi"}}
    return json.dumps({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "admission-probe", "namespace": NAMESPACE},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
        },
    })  # fmt: skip


def server_dry_run(manifest: str) -> subprocess.CompletedProcess:
    """Create through the API server with every admission step, storing nothing."""
    return subprocess.run(
        ["kubectl", "create", "--dry-run=server", "-f", "-"],
        input=manifest,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_8_the_api_server_enforces_the_admission_policies_argo_cd_synced(deployed):
    def policies_synced():
        status = application("gold-platform-admission-policies").get("status", {})
        return (
            status.get("sync", {}).get("status") == "Synced"
            and status.get("health", {}).get("status") == "Healthy"
        )

    wait_until("the admission policies' Application Synced and Healthy", policies_synced, 300)
    bindings = kubectl_json("get", "validatingadmissionpolicybindings")["items"]
    assert {"gold-platform-pod-hardening", "gold-platform-image-digest"} <= {
        b["metadata"]["name"] for b in bindings
    }

    refused = server_dry_run(pod("localhost/gold-platform:latest", hardened=False))
    assert refused.returncode != 0, refused.stdout
    assert "ValidatingAdmissionPolicy 'gold-platform-pod-hardening'" in refused.stderr, (
        refused.stderr
    )
    admitted = server_dry_run(pod("localhost/gold-platform:e2e-1", hardened=True))
    assert admitted.returncode == 0, admitted.stderr
    figure(
        "10.8 admission policies (synced by Argo CD)",
        "a pod Pod Security admits, unhardened: refused by the API server; hardened: admitted",
    )
