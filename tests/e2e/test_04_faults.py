"""Scenario 4: delete a backend pod, then the PostgreSQL pod. The API comes
back by itself, and nothing written before either fault is lost."""

from __future__ import annotations

import time

import requests

from tests.e2e.conftest import figure
from tests.e2e.kube import (
    NAMESPACE,
    Api,
    api_pods,
    database_counts,
    is_ready,
    kubectl,
    kubectl_json,
    port_forward,
    wait_until,
)


def api_answers(deployed) -> bool:
    """A fresh port-forward (the old one died with its pod) and a real read."""
    with port_forward("svc/gold-platform") as base:
        ready = requests.get(base + "/health/ready", timeout=5)
        if ready.status_code != 200:
            return False
        Api(base, deployed.operator_key).call(
            "GET", f"/v1/users/{deployed.user_id}/portfolio", deployed.partner_key
        )
        return True


def test_backend_and_database_pods_deleted_recover_without_loss(deployed):
    with port_forward("svc/gold-platform") as base:
        api = Api(base, deployed.operator_key)
        api.publish_rate()
        api.buy(deployed.partner_key, deployed.user_id, "500.00")
    before = database_counts()
    assert before["ledger_entries"] > 0

    old = {p["metadata"]["name"] for p in api_pods()}
    started = time.monotonic()
    kubectl("-n", NAMESPACE, "delete", "pod", *old, "--wait=false")
    wait_until(
        "a replacement backend pod Ready",
        lambda: any(is_ready(p) and p["metadata"]["name"] not in old for p in api_pods()),
        180,
    )
    wait_until("the API answers again", lambda: api_answers(deployed), 120)
    backend_recovery = time.monotonic() - started
    assert database_counts() == before

    uid = kubectl_json("-n", NAMESPACE, "get", "pod", "postgres-0")["metadata"]["uid"]
    started = time.monotonic()
    kubectl("-n", NAMESPACE, "delete", "pod", "postgres-0", "--wait=false")

    def database_back() -> bool:
        pod = kubectl_json("-n", NAMESPACE, "get", "pod", "postgres-0")
        return pod["metadata"]["uid"] != uid and is_ready(pod)

    wait_until("postgres-0 recreated and Ready", database_back, 300)
    wait_until("the API answers again", lambda: api_answers(deployed), 180)
    database_recovery = time.monotonic() - started

    after = database_counts()
    assert after == before, (before, after)
    with port_forward("svc/gold-platform") as base:
        report = Api(base, deployed.operator_key).reconciliation()
    assert report["balanced"] is True, report

    figure("4 faults: backend pod deleted, API back after", f"{backend_recovery:.0f} s")
    figure("4 faults: PostgreSQL pod deleted, API back after", f"{database_recovery:.0f} s")
    figure(
        "4 faults: rows before = after (and ledger checksum)",
        f"{before['transactions']} transactions, {before['ledger_entries']} ledger entries",
    )
