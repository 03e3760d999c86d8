"""scripts/sync-window.py: the project's sync windows, read as Argo CD reads
them for a manual sync (what deploy-k8s.sh --direct asks before deploying)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.manifests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "sync-window.py"
PROD = ("gold-platform-prod", "gold-platform-prod")


def verdict(at: str, app=PROD, project: Path | None = None) -> subprocess.CompletedProcess:
    args = [sys.executable, str(SCRIPT), "--at", at, *app]
    if project is not None:
        args += ["--project", str(project)]
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=30)


def project_with(tmp_path: Path, *windows: dict) -> Path:
    path = tmp_path / "project.yaml"
    path.write_text(yaml.safe_dump({"kind": "AppProject", "spec": {"syncWindows": list(windows)}}))
    return path


def window(kind: str, schedule: str, duration: str, **extra) -> dict:
    """A window for prod's Application (unless `extra` says otherwise)."""
    base = {"kind": kind, "schedule": schedule, "duration": duration}
    return base | {"applications": ["gold-platform-prod"]} | extra


@pytest.mark.parametrize(
    ("at", "blocked"),
    [
        ("2025-01-02T12:00:00+00:00", False),  # Thursday
        ("2025-01-03T16:59:00+00:00", False),  # Friday, just before the freeze
        ("2025-01-03T17:00:30+00:00", True),
        ("2025-01-05T12:00:00+00:00", True),  # Sunday
        ("2025-01-06T07:59:00+00:00", True),  # Monday, just before it lifts
        ("2025-01-06T08:00:30+00:00", False),
        ("2025-01-06T09:00:00+01:00", False),  # the same instant seen from another zone
    ],
)
def test_the_repository_freeze_holds_prod_from_friday_17_to_monday_8_utc(at, blocked):
    result = verdict(at)
    assert result.returncode == (1 if blocked else 0), result.stdout + result.stderr
    if blocked:
        assert result.stdout.strip() == (
            "sync-window: gold-platform-prod: blocked by sync window: deny window "
            "'0 17 * * 5' for 63h (UTC), closed until 2025-01-06 08:00 UTC"
        )


@pytest.mark.parametrize("env", ["dev", "staging"])
def test_the_freeze_holds_prod_only(env):
    app = (f"gold-platform-{env}", f"gold-platform-{env}")
    assert verdict("2025-01-05T12:00:00+00:00", app).returncode == 0


def test_a_deny_window_that_lets_people_sync_does_not_block(tmp_path):
    project = project_with(tmp_path, window("deny", "0 17 * * 5", "63h", manualSync=True))
    assert verdict("2025-01-05T12:00:00+00:00", project=project).returncode == 0


def test_allow_windows_must_be_open_unless_they_let_people_sync(tmp_path):
    office_hours = window("allow", "0 9 * * mon-fri", "8h", timeZone="Europe/Berlin")
    project = project_with(tmp_path, office_hours)
    # 09:30 in Berlin in January is 08:30 UTC.
    assert verdict("2025-01-06T08:30:00+00:00", project=project).returncode == 0
    closed = verdict("2025-01-06T07:30:00+00:00", project=project)
    assert closed.returncode == 1
    assert "no allow window is open now" in closed.stdout
    lenient = project_with(tmp_path, office_hours | {"manualSync": True})
    assert verdict("2025-01-06T07:30:00+00:00", project=lenient).returncode == 0


def test_both_day_fields_restricted_means_either_day(tmp_path):
    # Cron's rule: day of month 1 OR Monday.
    project = project_with(tmp_path, window("deny", "0 0 1 * 1", "1h"))
    for at, blocked in [
        ("2025-02-01T00:30:00+00:00", True),  # a Saturday, the 1st
        ("2025-02-03T00:30:00+00:00", True),  # a Monday, the 3rd
        ("2025-02-04T00:30:00+00:00", False),
    ]:
        assert verdict(at, project=project).returncode == (1 if blocked else 0), at


def test_windows_match_by_namespace_too(tmp_path):
    project = project_with(
        tmp_path,
        {"kind": "deny", "schedule": "* * * * *", "duration": "1h", "namespaces": ["*-prod"]},
    )
    assert verdict("2025-01-02T12:00:00+00:00", project=project).returncode == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (window("deny", "0 17 * *", "63h"), "want five cron fields"),
        (window("deny", "0 25 * * 5", "63h"), "25 is outside 0-23"),
        (window("deny", "0 17 * * 5", "2 days"), "duration '2 days'"),
        (window("block", "0 17 * * 5", "63h"), "window kind 'block'"),
        (window("deny", "0 17 * * 5", "63h", timeZone="Mars/Olympus"), "unknown timeZone"),
    ],
)
def test_a_window_it_cannot_read_is_an_error_not_a_pass(tmp_path, spec, message):
    result = verdict("2025-01-02T12:00:00+00:00", project=project_with(tmp_path, spec))
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
