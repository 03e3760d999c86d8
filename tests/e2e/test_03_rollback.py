"""Scenario 3: roll back to the previous image after that migration. The
schema stays ahead (migrations are expand-only); the old build is Ready on
it and serves, with no failed request."""

from __future__ import annotations

import json

from tests.e2e.conftest import figure
from tests.e2e.kube import E2E_OVERLAY, api_pods, deploy, is_ready, pod_readiness
from tests.e2e.load import in_cluster_load


def test_rollback_after_the_migration_is_ready_and_loses_no_request(deployed):
    with in_cluster_load(
        "e2e-load-rollback",
        partner_key=deployed.partner_key,
        operator_key=deployed.operator_key,
        user_id=deployed.load_user_id,
    ) as load:
        result = deploy(E2E_OVERLAY)
        summary = load.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary["sent"] >= 50, json.dumps(summary)
    assert summary["failed"] == 0, json.dumps(summary)

    pods = api_pods()
    assert pods and all(p["spec"]["containers"][0]["image"].endswith(":e2e-1") for p in pods)
    assert all(is_ready(p) for p in pods)
    readiness = pod_readiness(pods[0]["metadata"]["name"])
    database = readiness["checks"]["database"]
    assert readiness["status_code"] == 200, readiness
    assert database["migration"].endswith(".e2e-next-release")
    assert database["expected_migration"] < database["migration"]

    figure(
        "3 rollback to the previous image: requests sent / failed",
        f"{summary['sent']} / {summary['failed']} in {summary['seconds']} s",
    )
    figure(
        "3 rollback: Ready with the schema ahead",
        f"schema {database['migration']}, build expects {database['expected_migration']}",
    )
