"""Scenario 7: scripts/deploy-k8s.sh stops as soon as the migration Job has
failed (it used to wait out its full 600 s), and the next good deploy heals."""

from __future__ import annotations

import time

from tests.e2e.conftest import figure
from tests.e2e.kube import E2E_OVERLAY, api_pods, deploy, is_ready, overlay_with_image

FAILING_MIGRATION = """\
patches:
  - target:
      kind: Job
      name: gold-platform-migrate
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/command
        value: ["false"]
      - op: replace
        path: /spec/backoffLimit
        value: 0
"""


def test_a_failed_migration_job_ends_the_deploy_at_once(deployed, tmp_path):
    broken = overlay_with_image(tmp_path / "broken", "e2e-1", FAILING_MIGRATION)
    started = time.monotonic()
    result = deploy(broken, "DEPLOY_WAIT_SECONDS=600")
    failed_after = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the migration Job failed" in result.stderr
    assert failed_after < 300, f"took {failed_after:.0f} s, as if waiting out the 600 s"
    # The backend was not touched by the failed deploy, and still serves.
    assert all(is_ready(p) for p in api_pods())

    healed = deploy(E2E_OVERLAY)
    assert healed.returncode == 0, healed.stdout + healed.stderr
    figure(
        "7 deploy-k8s.sh: failed migration reported after", f"{failed_after:.0f} s (limit 600 s)"
    )
