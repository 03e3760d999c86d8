"""Scenario 9: the database is lost and comes back from its backup; its
password is rotated and every pod follows.

9.1 Trades are made, a backup is taken with the CronJob's own command, then
    the StatefulSet and its claim are deleted and redeployed empty;
    scripts/postgres-restore.sh brings every row back (per-table counts and a
    checksum of the ledger) and reconciliation still balances.
9.2 A new password in the dev overlay (the Secret's name changes, PostgreSQL
    and the backend restart): the start hook applies it, the backend is
    Ready on it, and the old password is refused. Then the staging/prod way:
    the Secret is changed in place and scripts/postgres-rotate-password.sh
    makes the database and the backend follow.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time

import yaml

from tests.e2e.conftest import figure
from tests.e2e.kube import (
    E2E_OVERLAY,
    NAMESPACE,
    ROOT,
    Api,
    KubectlError,
    api_pods,
    database_counts,
    deploy,
    is_ready,
    kubectl,
    kubectl_json,
    overlay_with_image,
    port_forward,
    psql,
    render,
    wait_until,
)

TRADES = 5


def run_script(name: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ROOT / "scripts" / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def take_backup(job: str) -> dict:
    """A backup by the CronJob's own pod template and command; its log line."""
    kubectl("-n", NAMESPACE, "create", "job", job, "--from=cronjob/postgres-backup")
    kubectl("-n", NAMESPACE, "wait", "--for=condition=complete", f"job/{job}", "--timeout=300s",
            timeout=320)  # fmt: skip
    logs = kubectl("-n", NAMESPACE, "logs", f"job/{job}")
    return json.loads(logs.strip().splitlines()[-1])


def schedules() -> dict[str, str]:
    """Each environment's backup schedule, as its overlay renders it."""
    found = {}
    for env in ("dev", "staging", "prod"):
        for doc in yaml.safe_load_all(render(ROOT / "kustomize" / "overlays" / env)):
            if doc and doc["kind"] == "CronJob" and doc["metadata"]["name"] == "postgres-backup":
                found[env] = doc["spec"]["schedule"]
    return found


def test_1_the_lost_database_is_restored_from_its_backup(deployed):
    with port_forward("svc/gold-platform") as base:
        api = Api(base, deployed.operator_key)
        api.publish_rate()
        for _ in range(TRADES):
            api.buy(deployed.partner_key, deployed.load_user_id, "250.00")
        report_before = api.reconciliation()
        portfolio_before = api.call(
            "GET", f"/v1/users/{deployed.load_user_id}/portfolio", deployed.partner_key
        )
    assert report_before["balanced"] is True, report_before
    before = database_counts()
    assert before["transactions"] >= TRADES and before["ledger_entries"] > 0, before

    started = time.monotonic()
    backup = take_backup(f"postgres-backup-e2e-{int(time.time())}")
    backup_s = time.monotonic() - started
    assert backup["event"] == "backup_done" and backup["bytes"] > 0, backup

    # Lose the database: the StatefulSet and its claim (the volume goes with it).
    claim = kubectl_json("-n", NAMESPACE, "get", "pvc", "data-postgres-0")
    kubectl("-n", NAMESPACE, "delete", "statefulset", "postgres", "--wait=true")
    kubectl("-n", NAMESPACE, "delete", "pvc", "data-postgres-0", "--wait=true", timeout=180)
    wait_until(
        "postgres-0 gone",
        lambda: not kubectl_json("-n", NAMESPACE, "get", "pods", "-l",
                                 "app.kubernetes.io/component=database")["items"],
        180,
    )  # fmt: skip
    redeployed = deploy(E2E_OVERLAY)
    assert redeployed.returncode == 0, redeployed.stdout + redeployed.stderr
    new_claim = kubectl_json("-n", NAMESPACE, "get", "pvc", "data-postgres-0")
    assert new_claim["spec"]["volumeName"] != claim["spec"]["volumeName"]
    empty = database_counts()
    assert empty["transactions"] == 0 and empty["ledger_entries"] == 0, empty

    started = time.monotonic()
    restored = run_script("postgres-restore.sh", "dev", "--backup", backup["backup"], "--yes")
    restore_s = time.monotonic() - started
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert f'"backup": "{backup["backup"]}"' in restored.stdout

    after = database_counts()
    assert after == before, (before, after)
    wait_until(
        "the backend Ready", lambda: api_pods() and all(is_ready(p) for p in api_pods()), 300
    )
    with port_forward("svc/gold-platform") as base:
        api = Api(base, deployed.operator_key)
        report_after = api.reconciliation()
        portfolio_after = api.call(
            "GET", f"/v1/users/{deployed.load_user_id}/portfolio", deployed.partner_key
        )
    assert report_after["balanced"] is True, report_after
    assert portfolio_after == portfolio_before

    every = schedules()
    figure(
        "9.1 backup: size / pg_dump time / Job end to end",
        f"{backup['bytes']} bytes / {backup['seconds']} s / {backup_s:.0f} s",
    )
    figure(
        "9.1 restore: backend stopped, restored, serving again",
        f"{restore_s:.0f} s; {len(before) - 1} tables and the ledger checksum equal",
    )
    figure(
        "9.1 backup schedules (RPO = the interval)", ", ".join(f"{e} {s}" for e, s in every.items())
    )


def secret_data(name: str) -> dict[str, str]:
    data = kubectl_json("-n", NAMESPACE, "get", "secret", name)["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def database_secret() -> str:
    statefulset = kubectl_json("-n", NAMESPACE, "get", "statefulset", "postgres")
    env = statefulset["spec"]["template"]["spec"]["containers"][0]["env"]
    return next(
        e["valueFrom"]["secretKeyRef"]["name"] for e in env if e["name"] == "POSTGRES_PASSWORD"
    )


def logs_in(password: str) -> bool:
    try:
        return psql("SELECT 1", password=password) == "1"
    except KubectlError:
        return False


def serving() -> bool:
    pods = api_pods()
    return bool(pods) and all(is_ready(p) for p in pods)


def test_2_a_rotated_password_reaches_the_database_and_every_pod(deployed, tmp_path):
    original = secret_data(database_secret())
    rotated = "dev-only-rotated-password-e2e"
    overlay = overlay_with_image(
        tmp_path / "rotated",
        "e2e-1",
        "secretGenerator:\n"
        "  - name: gold-platform-secrets\n"
        "    behavior: merge\n"
        "    literals:\n"
        f"      - POSTGRES_PASSWORD={rotated}\n"
        f"      - DATABASE_URL=postgresql://gold:{rotated}@postgres:5432/gold\n",
    )
    started = time.monotonic()
    result = deploy(overlay)
    assert result.returncode == 0, result.stdout + result.stderr
    wait_until("the backend Ready on the rotated password", serving, 300)
    overlay_s = time.monotonic() - started
    assert secret_data(database_secret())["POSTGRES_PASSWORD"] == rotated
    assert logs_in(rotated)
    assert not logs_in(original["POSTGRES_PASSWORD"])

    # The staging/prod way: the Secret changes in place (the secret store), then the script.
    name = database_secret()
    kubectl("-n", NAMESPACE, "patch", "secret", name, "--type=merge", "-p", json.dumps(
        {"stringData": {k: original[k] for k in ("POSTGRES_PASSWORD", "DATABASE_URL")}}))  # fmt: skip
    started = time.monotonic()
    result = run_script("postgres-rotate-password.sh", "dev", "--yes")
    script_s = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    wait_until("the backend Ready on the original password", serving, 300)
    assert logs_in(original["POSTGRES_PASSWORD"])
    assert not logs_in(rotated)
    with port_forward("svc/gold-platform") as base:
        assert Api(base, deployed.operator_key).reconciliation()["balanced"] is True

    figure("9.2 password rotated in the overlay: deploy to serving", f"{overlay_s:.0f} s")
    figure("9.2 password rotated in place: postgres-rotate-password.sh", f"{script_s:.0f} s")
