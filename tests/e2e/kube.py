"""kubectl, port-forwards and the service's API, for the end-to-end scenarios.

Everything goes through the `kubectl` on PATH and the cluster of $KUBECONFIG,
so the same scenarios run on `make cluster-up`'s cluster and on kind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "gold-platform-dev"
API_SELECTOR = "app.kubernetes.io/name=gold-platform,app.kubernetes.io/component=api"
COMMAND_TIMEOUT = 120


class KubectlError(AssertionError):
    pass


def kubectl(*args: str, input: str | None = None, timeout: float = COMMAND_TIMEOUT) -> str:
    result = subprocess.run(
        ["kubectl", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise KubectlError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def kubectl_json(*args: str) -> dict:
    return json.loads(kubectl(*args, "-o", "json"))


def wait_until(what: str, check, timeout: float, interval: float = 1.0):
    """Poll `check()` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (KubectlError, requests.RequestException) as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"{what}: not reached in {timeout:.0f} s (last error: {last_error})")


def api_pods(*, terminating: bool = False) -> list[dict]:
    """The backend's pods; those shutting down only when asked for."""
    pods = kubectl_json("-n", NAMESPACE, "get", "pods", "-l", API_SELECTOR)["items"]
    return [p for p in pods if terminating or "deletionTimestamp" not in p["metadata"]]


def is_ready(pod: dict) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def backend_secret_name(variable: str = "OPERATOR_API_KEY") -> str:
    """The (hash-suffixed) Secret the backend reads `variable` from."""
    deployment = kubectl_json("-n", NAMESPACE, "get", "deployment", "gold-platform")
    for env in deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
        if env["name"] == variable:
            return env["valueFrom"]["secretKeyRef"]["name"]
    raise AssertionError(f"the backend reads no {variable}")


def secret_value(name: str, key: str) -> str:
    import base64

    data = kubectl_json("-n", NAMESPACE, "get", "secret", name)["data"]
    return base64.b64decode(data[key]).decode()


def deploy(overlay: Path, *extra: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """The project's own deploy path (no Argo CD): scripts/deploy-k8s.sh --direct dev."""
    return subprocess.run(
        [str(ROOT / "scripts" / "deploy-k8s.sh"), "--direct", "dev", "--overlay", str(overlay)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **dict(e.split("=", 1) for e in extra)},
    )


def overlay_with_image(tmp: Path, tag: str, patches: str = "") -> Path:
    """An overlay of kustomize/overlays/e2e with the service image at `tag`."""
    tmp.mkdir(parents=True, exist_ok=True)
    base = os.path.relpath(ROOT / "kustomize" / "overlays" / "e2e", tmp)
    (tmp / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\n"
        "kind: Kustomization\n"
        f"resources:\n  - {base}\n"
        f"images:\n  - name: localhost/gold-platform\n    newTag: {tag}\n" + patches
    )
    return tmp


@contextmanager
def port_forward(target: str, remote_port: int = 8080) -> Iterator[str]:
    """`kubectl port-forward` on 127.0.0.1 with a free local port; yields its base URL."""
    process = subprocess.Popen(
        [
            "kubectl",
            "-n",
            NAMESPACE,
            "port-forward",
            "--address",
            "127.0.0.1",
            target,
            f":{remote_port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not match:
            raise KubectlError(f"port-forward {target}: {line}{process.stderr.read(2000)}")
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class Api:
    """The service's HTTP API at `base` (through a port-forward)."""

    base: str
    operator_key: str
    timeout: float = 10.0

    def call(self, method: str, path: str, key: str | None = None, expect: int = 200, **kw):
        headers = {"Authorization": f"Bearer {key or self.operator_key}", **kw.pop("headers", {})}
        response = requests.request(
            method, self.base + path, headers=headers, timeout=self.timeout, **kw
        )
        body = response.json()
        assert response.status_code == expect, (method, path, response.status_code, body)
        return body

    def partner(self, name: str) -> str:
        return self.call("POST", "/v1/admin/partners", json={"name": name}, expect=201)["api_key"]

    def publish_rate(self, buy: str = "6000.00", sell: str = "5800.00") -> dict:
        return self.call(
            "POST", "/v1/admin/rates", json={"buy_price": buy, "sell_price": sell}, expect=201
        )

    def user(self, key: str, external_id: str) -> str:
        return self.call("POST", "/v1/users", key, json={"external_id": external_id}, expect=201)[
            "id"
        ]

    def buy(self, key: str, user_id: str, amount: str) -> dict:
        rate = self.call("GET", "/v1/rates/current", key)
        tx = self.call(
            "POST",
            "/v1/transactions/buy",
            key,
            json={"user_id": user_id, "rate_id": rate["rate_id"], "amount": amount},
            expect=201,
        )
        return self.call("POST", f"/v1/transactions/{tx['id']}/confirm", key)

    def reconciliation(self) -> dict:
        return self.call("GET", "/v1/admin/reconciliation")


def database_counts() -> dict[str, int | str]:
    """Row counts of every table and a checksum of the ledger, read inside the
    PostgreSQL pod with psql (the database's own view, not the API's)."""
    query = (
        "SELECT json_object_agg(name, rows) FROM ("
        " SELECT table_name AS name, (xpath('/row/n/text()', query_to_xml("
        "  format('SELECT count(*) AS n FROM %I', table_name), false, true, '')))[1]::text::int"
        "  AS rows FROM information_schema.tables"
        "  WHERE table_schema = 'public' AND table_type = 'BASE TABLE') t"
    )
    counts = json.loads(psql(query))
    counts["ledger_checksum"] = psql(
        "SELECT md5(coalesce(string_agg(e::text, ',' ORDER BY e.id), '')) FROM ledger_entries e"
    )
    return counts


def psql(query: str, password: str | None = None) -> str:
    """One query inside the PostgreSQL pod: over its socket, or over TCP with
    `password` (as a client would log in)."""
    login = ["env", f"PGPASSWORD={password}", "psql", "-h", "127.0.0.1"] if password else ["psql"]
    return kubectl(
        "-n", NAMESPACE, "exec", "postgres-0", "-c", "postgres", "--",
        *login, "-U", "gold", "-d", "gold", "-v", "ON_ERROR_STOP=1", "-At", "-c", query,
    ).strip()  # fmt: skip


E2E_OVERLAY = ROOT / "kustomize" / "overlays" / "e2e"


def signed_images() -> dict[str, str]:
    """What scripts/cluster/sign-images.sh pushed to the cluster's registry
    (NAME: REGISTRY/REPO@sha256:...), or {} on a cluster without it."""
    state = Path(os.environ.get("CLUSTER_STATE", ROOT / ".state" / "cluster"))
    recorded = state / "signing" / "images.env"
    if not recorded.is_file():
        return {}
    return dict(line.split("=", 1) for line in recorded.read_text().split())


def render(overlay: Path) -> str:
    """kustomize build with the project's pinned kustomize (or kubectl's own)."""
    kustomize = ROOT / ".tools" / "bin" / "kustomize"
    command = [str(kustomize), "build"] if kustomize.exists() else ["kubectl", "kustomize"]
    return subprocess.run(
        [*command, str(overlay)], capture_output=True, text=True, check=True, timeout=120
    ).stdout


class PodWatcher:
    """Samples the backend pods twice a second in a thread: name, image,
    Ready, terminating. Used to show which pods served during a rollout."""

    def __init__(self) -> None:
        import threading

        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from datetime import UTC, datetime

        while not self._stop.is_set():
            try:
                pods = api_pods(terminating=True)
            except KubectlError:
                pods = []
            now = datetime.now(UTC)
            for pod in pods:
                self.samples.append(
                    {
                        "at": now,
                        "name": pod["metadata"]["name"],
                        "image": pod["spec"]["containers"][0]["image"],
                        "ready": is_ready(pod),
                        "terminating": "deletionTimestamp" in pod["metadata"],
                    }
                )
            self._stop.wait(0.5)

    def __enter__(self) -> PodWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def job_completed_at(name: str = "gold-platform-migrate"):
    from datetime import datetime

    job = kubectl_json("-n", NAMESPACE, "get", "job", name)
    return datetime.fromisoformat(job["status"]["completionTime"].replace("Z", "+00:00"))


def pod_readiness(pod_name: str) -> dict:
    """The pod's own /health/ready answer, through a port-forward to that pod."""
    with port_forward(f"pod/{pod_name}") as base:
        response = requests.get(base + "/health/ready", timeout=10)
        return {"status_code": response.status_code, **response.json()}
