"""Scenario 2: a release that adds a migration, rolled out under steady load
through the Service: no request fails, and the old pods stay Ready while the
schema is already ahead of them (the migration runs before the new pods)."""

from __future__ import annotations

import json

from tests.e2e.conftest import figure
from tests.e2e.kube import (
    Api,
    PodWatcher,
    api_pods,
    deploy,
    is_ready,
    job_completed_at,
    overlay_with_image,
    pod_readiness,
    port_forward,
)
from tests.e2e.load import in_cluster_load

CURRENT, NEXT = "e2e-1", "e2e-2"


def test_rolling_upgrade_with_a_migration_loses_no_request(deployed, tmp_path):
    with port_forward("svc/gold-platform") as base:
        Api(base, deployed.operator_key).publish_rate()

    release = overlay_with_image(tmp_path / "next", NEXT)
    with (
        in_cluster_load(
            "e2e-load-upgrade",
            partner_key=deployed.partner_key,
            operator_key=deployed.operator_key,
            user_id=deployed.load_user_id,
        ) as load,
        PodWatcher() as pods,
    ):
        result = deploy(release)
        summary = load.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary["sent"] >= 50, json.dumps(summary)
    assert summary["failed"] == 0, json.dumps(summary)

    migrated_at = job_completed_at()
    old_after_migration = [
        s
        for s in pods.samples
        if s["image"].endswith(f":{CURRENT}") and s["at"] > migrated_at and not s["terminating"]
    ]
    assert old_after_migration, "no old pod was seen after the migration finished"
    assert all(s["ready"] for s in old_after_migration), old_after_migration

    new = api_pods()
    assert new and all(p["spec"]["containers"][0]["image"].endswith(f":{NEXT}") for p in new)
    assert all(is_ready(p) for p in new)
    readiness = pod_readiness(new[0]["metadata"]["name"])
    database = readiness["checks"]["database"]
    assert readiness["status_code"] == 200
    assert database["migration"] == database["expected_migration"]
    assert database["migration"].endswith(".e2e-next-release")

    figure(
        "2 rolling upgrade + migration: requests sent / failed",
        f"{summary['sent']} / {summary['failed']} in {summary['seconds']} s",
    )
    figure(
        "2 rolling upgrade: old pods Ready on the newer schema",
        f"{len({s['name'] for s in old_after_migration})} pod(s), "
        f"{len(old_after_migration)} samples, all Ready",
    )
