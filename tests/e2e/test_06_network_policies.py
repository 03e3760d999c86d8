"""Scenario 6: the NetworkPolicies as the API server holds them, and, where
the cluster's network plugin enforces them, that they really do.

The local cluster's network is the CNI bridge plugin, which does not
implement NetworkPolicy, so there the policies are proven accepted (created,
schema-valid, exactly the rendered set) and enforcement is not claimed. The
kind job's network plugin (kindnet) enforces them: there the probes below
must be refused and admitted as the policies say (E2E_NETWORK_POLICY_ENFORCED=1).
"""

from __future__ import annotations

import json
import os

import yaml

from tests.e2e.conftest import figure
from tests.e2e.kube import (
    E2E_OVERLAY,
    NAMESPACE,
    kubectl,
    kubectl_json,
    render,
    wait_until,
)
from tests.e2e.load import LOAD_NAMESPACE, restricted_pod

ENFORCED = os.environ.get("E2E_NETWORK_POLICY_ENFORCED") == "1"


def probe(namespace: str, name: str, labels: dict, host: str, port: int) -> bool:
    """Whether a pod in `namespace` with `labels` can open host:port."""
    code = (
        "import socket,sys\n"
        f"s=socket.create_connection(({host!r},{port}),timeout=5)\n"
        "print('connected')\n"
    )
    pod = restricted_pod(name, namespace, labels, ["python", "-c", code])
    kubectl("-n", namespace, "delete", "pod", name, "--ignore-not-found", "--wait=true")
    kubectl("apply", "-f", "-", input=json.dumps(pod))
    try:
        phase = wait_until(
            f"probe {name} finished",
            lambda: (
                kubectl_json("-n", namespace, "get", "pod", name)["status"].get("phase")
                in ("Succeeded", "Failed")
                and kubectl_json("-n", namespace, "get", "pod", name)["status"]["phase"]
            ),
            120,
        )
        return phase == "Succeeded"
    finally:
        kubectl("-n", namespace, "delete", "pod", name, "--ignore-not-found", "--wait=false")


def test_network_policies_accepted_and_enforced_where_the_plugin_can(deployed):
    rendered = {
        d["metadata"]["name"]: d["spec"]
        for d in yaml.safe_load_all(render(E2E_OVERLAY))
        if d and d["kind"] == "NetworkPolicy"
    }
    live = {
        p["metadata"]["name"]: p["spec"]
        for p in kubectl_json("-n", NAMESPACE, "get", "networkpolicies")["items"]
    }
    assert live.keys() == rendered.keys()
    for name, spec in rendered.items():
        assert live[name]["podSelector"] == spec["podSelector"], name
        assert sorted(live[name]["policyTypes"]) == sorted(spec["policyTypes"]), name

    backend = f"gold-platform.{NAMESPACE}.svc.cluster.local"
    database = f"postgres.{NAMESPACE}.svc.cluster.local"
    ingress_labels = {"app.kubernetes.io/name": "ingress-nginx"}
    allowed = probe(LOAD_NAMESPACE, "e2e-probe-ingress", ingress_labels, backend, 8080)
    assert allowed, "the ingress controller's path to the backend must stay open"
    if ENFORCED:
        assert not probe(LOAD_NAMESPACE, "e2e-probe-stranger", {}, backend, 8080)
        assert not probe(LOAD_NAMESPACE, "e2e-probe-db", ingress_labels, database, 5432)
        # The ingress controller reaches the API port only, never the metrics port.
        assert not probe(LOAD_NAMESPACE, "e2e-probe-metrics", ingress_labels, backend, 9090)
        enforcement = (
            "enforced: stranger -> backend, ingress -> PostgreSQL and ingress -> metrics refused"
        )
    else:
        enforcement = "not enforced here (the CNI bridge plugin has no NetworkPolicy support)"
    figure(
        "6 NetworkPolicies",
        f"{len(live)} accepted as rendered; ingress -> backend open; {enforcement}",
    )
