"""Scenario 1: a fresh deploy of the dev overlay, in sync-wave order, admitted
under Pod Security `restricted`, then a first trade through the Service."""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal

import yaml

from tests.e2e.conftest import figure
from tests.e2e.kube import (
    E2E_OVERLAY,
    NAMESPACE,
    Api,
    api_pods,
    backend_secret_name,
    deploy,
    is_ready,
    kubectl,
    kubectl_json,
    port_forward,
    render,
    secret_value,
)

WORKLOADS = {"Deployment", "StatefulSet", "Job"}


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def condition_time(obj: dict, kind: str) -> datetime:
    for c in obj["status"]["conditions"]:
        if c["type"] == kind and c["status"] == "True":
            return ts(c["lastTransitionTime"])
    raise AssertionError(f"{obj['metadata']['name']} has no {kind}=True condition")


def test_fresh_deploy_in_order_restricted_and_trading(deployment):
    started = time.monotonic()
    result = deploy(E2E_OVERLAY)
    assert result.returncode == 0, result.stdout + result.stderr
    deployed_s = time.monotonic() - started

    # The namespace enforces `restricted`: every pod below was admitted under it.
    labels = kubectl_json("get", "namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

    # Sync order: secrets, then the database, then the migration, then the backend.
    secret_name = backend_secret_name()
    secret = kubectl_json("-n", NAMESPACE, "get", "secret", secret_name)
    database = kubectl_json("-n", NAMESPACE, "get", "statefulset", "postgres")
    database_pod = kubectl_json("-n", NAMESPACE, "get", "pod", "postgres-0")
    job = kubectl_json("-n", NAMESPACE, "get", "job", "gold-platform-migrate")
    backend = kubectl_json("-n", NAMESPACE, "get", "deployment", "gold-platform")
    assert ts(secret["metadata"]["creationTimestamp"]) <= ts(
        database["metadata"]["creationTimestamp"]
    )
    assert condition_time(database_pod, "Ready") <= ts(job["status"]["startTime"])
    assert job["status"].get("succeeded") == 1
    assert ts(job["status"]["completionTime"]) <= ts(backend["metadata"]["creationTimestamp"])

    # Every pod Ready, with exactly the security context the manifests give.
    rendered = [d for d in yaml.safe_load_all(render(E2E_OVERLAY)) if d]
    templates = {
        d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"][
            "template"
        ]["spec"]
        for d in rendered
        if d["kind"] in WORKLOADS
    }
    pods = kubectl_json("-n", NAMESPACE, "get", "pods")["items"]
    seen = set()
    for pod in pods:
        component = pod["metadata"]["labels"]["app.kubernetes.io/component"]
        want = templates[component]
        got = pod["spec"]
        assert got["securityContext"] == want["securityContext"], component
        for got_c, want_c in zip(got["containers"], want["containers"], strict=True):
            assert got_c["securityContext"] == want_c["securityContext"], component
        if component != "migrate":
            assert is_ready(pod), pod["metadata"]["name"]
        seen.add(component)
    assert seen == {"api", "database", "cache", "migrate"}

    # ...and the kernel agrees: uid, read-only root, no capabilities.
    api_pod = api_pods()[0]["metadata"]["name"]
    for pod, container, uid in ((api_pod, "api", "1000"), ("postgres-0", "postgres", "999")):
        assert (
            kubectl("-n", NAMESPACE, "exec", pod, "-c", container, "--", "id", "-u").strip() == uid
        )
        status = kubectl(
            "-n", NAMESPACE, "exec", pod, "-c", container, "--", "cat", "/proc/1/status"
        )
        assert "CapEff:\t0000000000000000" in status, status
        denied = kubectl(
            "-n", NAMESPACE, "exec", pod, "-c", container, "--",
            "sh", "-c", "touch /e2e-probe 2>&1 || true",
        )  # fmt: skip
        assert "Read-only file system" in denied, denied

    deployment.operator_key = secret_value(secret_name, "OPERATOR_API_KEY")
    with port_forward("svc/gold-platform") as base:
        api = Api(base, deployment.operator_key)
        deployment.partner_key = api.partner("e2e-partner")
        api.publish_rate()
        deployment.user_id = api.user(deployment.partner_key, "e2e-customer-1")
        trade = api.buy(deployment.partner_key, deployment.user_id, "1000.00")
        first_trade_s = time.monotonic() - started
        assert trade["status"] == "confirmed", trade
        portfolio = api.call(
            "GET", f"/v1/users/{deployment.user_id}/portfolio", deployment.partner_key
        )
        assert Decimal(portfolio["grams"]) == Decimal(trade["grams"]) > 0
        assert Decimal(portfolio["invested_amount"]) == Decimal("1000.00")
        report = api.reconciliation()
        assert report["balanced"] is True, report

    figure("1 fresh deploy: deploy-k8s.sh --direct dev", f"{deployed_s:.0f} s")
    figure("1 fresh deploy: apply to first confirmed trade", f"{first_trade_s:.0f} s")
