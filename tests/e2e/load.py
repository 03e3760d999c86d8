"""Runs tests/e2e/incluster_load.py in a pod and collects its summary."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.kube import NAMESPACE, kubectl, kubectl_json, wait_until

LOAD_NAMESPACE = "ingress-nginx"
SCRIPT = Path(__file__).with_name("incluster_load.py")
TARGET = f"http://gold-platform.{NAMESPACE}.svc.cluster.local:8080"


def _namespace() -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": LOAD_NAMESPACE,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    }
    kubectl("apply", "--server-side", "-f", "-", input=json.dumps(manifest))
    configmap = kubectl(
        "-n", LOAD_NAMESPACE, "create", "configmap", "e2e-load",
        f"--from-file=incluster_load.py={SCRIPT}", "--dry-run=client", "-o", "yaml",
    )  # fmt: skip
    kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=configmap)


def restricted_pod(
    name: str, namespace: str, labels: dict, command: list[str], *,
    env: dict[str, str] | None = None, volumes: dict[str, tuple[str, dict]] | None = None,
) -> dict:  # fmt: skip
    """A one-shot pod of the service's image that Pod Security `restricted`
    admits; `volumes` maps a name to (mount path, volume source)."""
    volumes = volumes or {}
    container = {
        "name": "main",
        "image": service_image(),
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
        "volumeMounts": [{"name": n, "mountPath": path} for n, (path, _) in volumes.items()],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "runAsGroup": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [container],
            "volumes": [{"name": n, **source} for n, (_, source) in volumes.items()],
        },
    }


def service_image() -> str:
    deployment = kubectl_json("-n", NAMESPACE, "get", "deployment", "gold-platform")
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


class LoadRun:
    def __init__(self, name: str) -> None:
        self.name = name
        self.summary: dict = {}

    def stop(self, timeout: float = 60) -> dict:
        kubectl("-n", LOAD_NAMESPACE, "exec", self.name, "--", "touch", "/tmp/stop")

        def finished():
            pod = kubectl_json("-n", LOAD_NAMESPACE, "get", "pod", self.name)
            return pod["status"].get("phase") in ("Succeeded", "Failed") and pod

        pod = wait_until(f"load pod {self.name} finished", finished, timeout)
        lines = kubectl("-n", LOAD_NAMESPACE, "logs", self.name).splitlines()
        assert pod["status"]["phase"] == "Succeeded", lines[-20:]
        self.summary = json.loads(next(line for line in reversed(lines) if line.startswith("{")))
        return self.summary


@contextmanager
def in_cluster_load(
    name: str, *, partner_key: str, operator_key: str, user_id: str, concurrency: int = 4,
    max_seconds: int = 400,
) -> Iterator[LoadRun]:  # fmt: skip
    """A bounded load pod; `run.stop()` ends it and returns its summary."""
    _namespace()
    kubectl("-n", LOAD_NAMESPACE, "delete", "pod", name, "--ignore-not-found", "--wait=true")
    env = {
        "TARGET": TARGET,
        "PARTNER_KEY": partner_key,
        "OPERATOR_KEY": operator_key,
        "USER_ID": user_id,
        "CONCURRENCY": str(concurrency),
        "MAX_SECONDS": str(max_seconds),
    }
    pod = restricted_pod(
        name,
        LOAD_NAMESPACE,
        # Where the ingress controller stands: the only source the backend's
        # NetworkPolicy admits.
        {"app.kubernetes.io/name": "ingress-nginx"},
        ["python", "/load/incluster_load.py"],
        env=env,
        volumes={
            "script": ("/load", {"configMap": {"name": "e2e-load"}}),
            "tmp": ("/tmp", {"emptyDir": {"sizeLimit": "16Mi"}}),
        },
    )
    kubectl("apply", "-f", "-", input=json.dumps(pod))
    run = LoadRun(name)
    try:
        wait_until(
            f"load pod {name} sending",
            lambda: "load started" in kubectl("-n", LOAD_NAMESPACE, "logs", name),
            120,
        )
        time.sleep(3)  # a few seconds of steady traffic before the scenario acts
        yield run
        if not run.summary:
            run.stop()
    finally:
        kubectl("-n", LOAD_NAMESPACE, "delete", "pod", name, "--ignore-not-found", "--wait=false")
