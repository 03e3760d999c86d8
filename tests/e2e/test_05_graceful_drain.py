"""Scenario 5: a backend pod deleted under load fails no in-flight request:
the preStop delay keeps it serving while the Service drops it, then gunicorn
finishes what it has on SIGTERM.

dev runs one replica; deleting the only pod is an outage by design, so this
scenario scales the backend to two (as staging and prod run at least two)
and back to the overlay's one afterwards."""

from __future__ import annotations

import json
import time

from tests.e2e.conftest import figure
from tests.e2e.kube import NAMESPACE, api_pods, is_ready, kubectl, wait_until
from tests.e2e.load import in_cluster_load


def test_deleting_a_backend_pod_under_load_fails_nothing(deployed):
    kubectl("-n", NAMESPACE, "scale", "deployment/gold-platform", "--replicas=2")
    try:
        wait_until(
            "two backend pods Ready",
            lambda: len([p for p in api_pods() if is_ready(p)]) == 2,
            180,
        )
        victim = api_pods()[0]["metadata"]["name"]
        with in_cluster_load(
            "e2e-load-drain",
            partner_key=deployed.partner_key,
            operator_key=deployed.operator_key,
            user_id=deployed.load_user_id,
        ) as load:
            started = time.monotonic()
            kubectl("-n", NAMESPACE, "delete", "pod", victim, "--wait=true", timeout=120)
            drained = time.monotonic() - started
            wait_until(
                "two backend pods Ready again",
                lambda: len([p for p in api_pods() if is_ready(p)]) == 2,
                180,
            )
            time.sleep(3)
            summary = load.stop()
    finally:
        kubectl("-n", NAMESPACE, "scale", "deployment/gold-platform", "--replicas=1")
    assert summary["sent"] >= 50, json.dumps(summary)
    assert summary["failed"] == 0, json.dumps(summary)
    figure(
        "5 graceful drain: requests sent / failed while a pod drains",
        f"{summary['sent']} / {summary['failed']} (pod gone after {drained:.0f} s)",
    )
