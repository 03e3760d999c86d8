"""What each port of the backend is for, and who can reach it (rendered overlays).

The API port (8080, `http`) serves the API and the kubelet's probes; the
Ingress routes only /v1 there. Prometheus metrics have their own port (9090,
`metrics`): on the Service for the ServiceMonitor, open to Prometheus's
namespace only, and never behind the Ingress.
"""

from __future__ import annotations

import pytest

from tests.manifests.conftest import policy

PRIVATE_PATHS = ("/metrics", "/health", "/health/ready")


def container_ports(deployment: dict) -> dict[str, int]:
    (api,) = [c for c in policy.pod_spec(deployment)["containers"] if c["name"] == "api"]
    return {p["name"]: p["containerPort"] for p in api.get("ports", [])}


def backend_service(docs: list[dict]) -> dict:
    (service,) = [
        s for s in policy.of_kind(docs, "Service") if s["metadata"]["name"] == "gold-platform"
    ]
    return service


def service_port(service: dict, ref: dict) -> dict:
    """The Service port an Ingress backend or ServiceMonitor names (by name or number)."""
    (port,) = [
        p
        for p in service["spec"]["ports"]
        if ref.get("name", object()) == p["name"] or ref.get("number") == p["port"]
    ]
    return port


def target_port(port: dict, ports: dict[str, int]) -> int:
    target = port["targetPort"]
    return ports[target] if isinstance(target, str) else target


def routes(path_rule: dict, request_path: str) -> bool:
    """Whether an Ingress path rule sends `request_path` to its backend.

    Prefix matches whole path elements (/v1 matches /v1 and /v1/x, not /v1x);
    ImplementationSpecific is taken as a prefix too, the widest reading.
    """
    path = path_rule.get("path", "/")
    if path_rule["pathType"] == "Exact":
        return request_path == path
    prefix = path.rstrip("/")
    return request_path == prefix or request_path.startswith(prefix + "/")


@pytest.mark.parametrize("env", policy.ENVIRONMENTS)
def test_metrics_have_their_own_port_named_in_the_config(rendered, env):
    docs = rendered[env]
    deployment = policy.backend(docs)
    ports = container_ports(deployment)
    assert set(ports) == {"http", "metrics"}, ports
    assert ports["http"] != ports["metrics"]
    config = policy.config_values(docs, deployment)
    assert int(config["PORT"]) == ports["http"]
    assert int(config["METRICS_PORT"]) == ports["metrics"]
    # The container listens on every interface: the kubelet and Prometheus reach the pod IP.
    assert config["METRICS_HOST"] == "0.0.0.0"
    service = backend_service(docs)
    metrics = service_port(service, {"name": "metrics"})
    assert target_port(metrics, ports) == ports["metrics"]
    api = policy.pod_spec(deployment)["containers"][0]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert api[probe]["httpGet"]["port"] == "http", probe


@pytest.mark.parametrize("env", policy.ENVIRONMENTS)
def test_the_ingress_routes_the_api_and_nothing_private(rendered, env):
    docs = rendered[env]
    ports = container_ports(policy.backend(docs))
    service = backend_service(docs)
    ingresses = policy.of_kind(docs, "Ingress")
    assert ingresses, f"{env} has no Ingress"
    for ingress in ingresses:
        for rule in ingress["spec"]["rules"]:
            for path_rule in rule["http"]["paths"]:
                backend = path_rule["backend"]["service"]
                port = service_port(service, backend["port"])
                assert backend["name"] == "gold-platform"
                assert target_port(port, ports) == ports["http"], path_rule
                assert target_port(port, ports) != ports["metrics"], path_rule
                reached = [p for p in PRIVATE_PATHS if routes(path_rule, p)]
                assert not reached, f"Ingress path {path_rule['path']!r} routes {reached}"
                assert routes(path_rule, "/v1/rates/current")
                assert routes(path_rule, "/v1/docs") and routes(path_rule, "/v1/openapi.json")


@pytest.mark.parametrize("env", policy.PROTECTED_ENVIRONMENTS)
def test_prometheus_scrapes_the_metrics_port_and_only_that(rendered, env):
    docs = rendered[env]
    ports = container_ports(policy.backend(docs))
    service = backend_service(docs)
    (monitor,) = policy.of_kind(docs, "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    scraped = service_port(service, {"name": endpoint["port"]})
    assert target_port(scraped, ports) == ports["metrics"]


def selects(selector: dict, labels: dict) -> bool:
    """Whether a NetworkPolicy's podSelector (matchLabels only here) picks pods with `labels`."""
    match = selector.get("matchLabels") or {}
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def allowed_ports(docs: list[dict], from_namespace: str) -> set[int]:
    """Backend ports that NetworkPolicies open to pods of `from_namespace`."""
    deployment = policy.backend(docs)
    labels = policy.pod_labels(deployment)
    ports = container_ports(deployment)
    opened: set[int] = set()
    for netpol in policy.of_kind(docs, "NetworkPolicy"):
        if not selects(netpol["spec"]["podSelector"], labels):
            continue
        for rule in netpol["spec"].get("ingress") or []:
            sources = {
                (peer.get("namespaceSelector") or {})
                .get("matchLabels", {})
                .get("kubernetes.io/metadata.name")
                for peer in rule.get("from") or [{}]
            }
            if from_namespace in sources:
                for port in rule.get("ports") or []:
                    number = port["port"]
                    opened.add(ports[number] if isinstance(number, str) else number)
    return opened


@pytest.mark.parametrize("env", policy.ENVIRONMENTS)
def test_network_policies_keep_each_port_to_its_client(rendered, env):
    docs = rendered[env]
    ports = container_ports(policy.backend(docs))
    assert allowed_ports(docs, "ingress-nginx") == {ports["http"]}
    expected = {ports["metrics"]} if env in policy.PROTECTED_ENVIRONMENTS else set()
    assert allowed_ports(docs, "monitoring") == expected
