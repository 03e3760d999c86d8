"""The Grafana dashboard (kustomize/components/monitoring/dashboard.json).

No maintained dashboard linter installs here (grafana/dashboard-linter has no
release on the Go module proxy), so: its structure, its provisioning as the
Grafana sidecar expects it, every query parsed by promtool (Prometheus's own
parser), and every metric a query reads is one the service exports, as
src/gold_platform/observability/metrics.py declares them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import promql_parser
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from gold_platform.observability import metrics

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "kustomize" / "components" / "monitoring"
DASHBOARD = json.loads((COMPONENT / "dashboard.json").read_text())
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# What Grafana puts in place of its variables before it sends a query.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$namespace": "gold-platform-prod"}
# The sample names each type of metric is exposed as.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}


def exported_metric_names() -> set[str]:
    names = set()
    for collector in vars(metrics).values():
        if isinstance(collector, MetricWrapperBase):
            for family in collector.describe():
                names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return names


def queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and of the namespace variable."""
    found = [
        (f"panel {panel['title']!r} {target['refId']}", target["expr"])
        for panel in DASHBOARD["panels"]
        for target in panel["targets"]
    ]
    for variable in DASHBOARD["templating"]["list"]:
        if variable["type"] == "query":
            # label_values(SELECTOR, LABEL): the selector is PromQL.
            definition = variable["definition"]
            selector = definition.removeprefix("label_values(").rsplit(",", 1)[0]
            found.append((f"variable {variable['name']}", selector))
    return found


def as_sent(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"an unknown Grafana variable in {expr}"
    return expr


def selected_metrics(expr: str) -> set[str]:
    names = set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return names


def test_the_service_exports_what_metrics_py_declares():
    names = exported_metric_names()
    assert {"http_requests_total", "http_request_duration_seconds_bucket"} <= names
    assert {"db_pool_connections", "cache_operations_total", "gold_grams_traded_total"} <= names


def test_structure():
    assert DASHBOARD["uid"] == "gold-platform"
    assert DASHBOARD["title"]
    assert isinstance(DASHBOARD["schemaVersion"], int)
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["namespace"]["datasource"] == DATASOURCE
    panels = DASHBOARD["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids are unique"
    for panel in panels:
        assert panel["title"] and panel["description"], panel["id"]
        assert panel["datasource"] == DATASOURCE, f"{panel['title']}: the $datasource variable"
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(set(refs)) == len(refs), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            # Every query is scoped to one environment and to this service.
            assert 'job="gold-platform", namespace="$namespace"' in target["expr"], panel["title"]


def test_the_asked_for_panels_are_there():
    titles = {p["title"] for p in DASHBOARD["panels"]}
    assert {
        "Request rate",
        "Error ratio (5xx)",
        "Latency p50 / p95 / p99",
        "Database pool usage",
        "Cache hit ratio",
        "Trades",
        "Grams traded",
    } <= titles
    (latency,) = [p for p in DASHBOARD["panels"] if p["title"].startswith("Latency")]
    assert [t["expr"].split(",")[0] for t in latency["targets"]] == [
        "histogram_quantile(0.5",
        "histogram_quantile(0.95",
        "histogram_quantile(0.99",
    ]


@pytest.mark.parametrize(("where", "expr"), queries())
def test_every_query_reads_only_metrics_the_service_exports(where, expr):
    unknown = selected_metrics(as_sent(expr)) - exported_metric_names()
    assert not unknown, f"{where}: not exported by the service: {sorted(unknown)}"


def test_every_query_parses_with_promtool(tmp_path):
    promtool = os.environ.get("PROMTOOL")
    if not promtool or not os.access(promtool, os.X_OK):
        pytest.fail("PROMTOOL is not set to promtool: run the tests through make (make test)")
    # promtool checks queries as the expressions of recording rules.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": as_sent(expr)}
                    for i, (_, expr) in enumerate(queries())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries())} rules found" in result.stdout


def test_provisioned_as_the_grafana_sidecar_expects():
    kustomization = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    (generator,) = kustomization["configMapGenerator"]
    assert generator["files"] == ["gold-platform.json=dashboard.json"]
    assert generator["options"]["labels"] == {"grafana_dashboard": "1"}
    assert generator["options"]["disableNameSuffixHash"] is True


def test_rendered_configmap_holds_the_dashboard(rendered):
    for env, docs in rendered.items():
        maps = [
            d
            for d in docs
            if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "gold-platform-dashboard"
        ]
        if env == "dev":
            assert maps == [], "dev has no monitoring component"
            continue
        (configmap,) = maps
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(configmap["data"]["gold-platform.json"]) == DASHBOARD
