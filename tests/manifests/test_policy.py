"""The repository's manifests pass every policy rule, in every environment."""

from __future__ import annotations

import copy

import pytest

from tests.manifests.conftest import ROOT, Tools, policy


def test_full_pipeline_passes_on_the_repository(tools: Tools, tmp_path):
    result = tools.validate(ROOT, tmp_path / "rendered")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validate: OK" in result.stdout
    # kubeconform saw every object and skipped none (a missing schema is an error).
    summary = [line for line in result.stdout.splitlines() if "Summary:" in line]
    assert summary, result.stdout
    assert "Skipped: 0" in summary[0]
    assert "Errors: 0" in summary[0]
    for env in policy.ENVIRONMENTS:
        assert (tmp_path / "rendered" / f"{env}.yaml").stat().st_size > 0


@pytest.mark.parametrize("env", policy.ENVIRONMENTS)
@pytest.mark.parametrize("rule", sorted(policy.RULES))
def test_rule_holds(rendered, env, rule):
    violations = policy.RULES[rule](env, rendered[env])
    assert not violations, "\n".join(str(v) for v in violations)


def test_argocd_applications_and_project(rendered, cluster_sets):
    files = sorted((ROOT / "argocd").rglob("*.yaml"))
    docs = [(p, d) for p in files for d in policy.load_documents(p)]
    kinds = sorted({d["kind"] for _, d in docs})
    assert kinds == ["AppProject", "Application", "ConfigMap"]
    # The one ConfigMap is the bootstrap's addition to Argo CD's own settings.
    settings = [
        (p.relative_to(ROOT).as_posix(), d["metadata"]["namespace"], d["metadata"]["name"])
        for p, d in docs
        if d["kind"] == "ConfigMap"
    ]
    assert settings == [("argocd/bootstrap/argocd-cm.yaml", "argocd", "argocd-cm")]
    by_source = {f"kustomize/overlays/{env}": rendered[env] for env in policy.ENVIRONMENTS}
    by_source |= {f"kustomize/cluster/{name}": cluster_sets[name] for name in policy.CLUSTER_SETS}
    violations = policy.check_argocd(ROOT, docs, by_source)
    assert not violations, "\n".join(str(v) for v in violations)


@pytest.mark.parametrize("name", sorted(policy.CLUSTER_SETS))
def test_cluster_set_holds(cluster_sets, name):
    violations = policy.check_cluster_set(name, cluster_sets[name])
    assert not violations, "\n".join(str(v) for v in violations)


def test_cluster_set_binding_for_every_namespace_is_refused(cluster_sets):
    docs = copy.deepcopy(cluster_sets["admission-policies"])
    binding = policy.of_kind(docs, "ValidatingAdmissionPolicyBinding")[0]
    del binding["spec"]["matchResources"]["namespaceSelector"]
    (violation,) = policy.check_cluster_set("admission-policies", docs)
    assert violation.rule == "cluster-set"
    assert "must select namespaces by kubernetes.io/metadata.name In" in violation.message


def test_kustomize_sources_use_current_fields_only():
    violations = policy.check_kustomize_sources(ROOT / "kustomize")
    assert not violations, "\n".join(str(v) for v in violations)


@pytest.mark.parametrize(
    ("env", "demand", "max_connections"),
    [
        # (replicas + surge + terminating) x workers x (pool + overflow), as in
        # docs/kubernetes.md and the overlays' postgres-connections comments
        ("dev", (1 + 1 + 1) * 2 * (5 + 3), 70),
        ("staging", (4 + 1 + 1) * 2 * (5 + 5), 150),
        ("prod", (10 + 1 + 1) * 2 * (8 + 2), 300),
    ],
)
def test_connection_budget_figures(rendered, env, demand, max_connections):
    docs = rendered[env]
    postgres = policy.of_kind(docs, "StatefulSet")[0]
    assert policy.postgres_max_connections(postgres) == max_connections
    assert demand < max_connections - policy.connection_reserve(max_connections)


def with_max_connections(docs: list[dict], max_connections: int) -> list[dict]:
    docs = copy.deepcopy(docs)
    (postgres,) = policy.of_kind(docs, "StatefulSet")
    args = postgres["spec"]["template"]["spec"]["containers"][0]["args"]
    index = next(i for i, a in enumerate(args) if a.startswith("max_connections="))
    args[index] = f"max_connections={max_connections}"
    return docs


def test_connection_budget_counts_the_pod_still_draining_during_a_rollout(rendered):
    # dev as it was: one pod, 2 workers x (5 + 3), max_connections 60. Counting
    # only the surge pod gives 32 < 44; but the pod the surge replaces keeps its
    # pools open through its grace period, so the peak is 3 pods: 48.
    violations = policy.check_connection_budget("dev", with_max_connections(rendered["dev"], 60))
    assert [v.message for v in violations] == [
        "(1 max replicas + 1 surge + 1 terminating) x 2 workers x 8 pool = 48 connections, "
        "not under max_connections 60 - reserve 16 = 44"
    ]


def test_rollout_extra_pods_round_like_the_deployment_controller():
    def deployment(surge, unavailable):
        rolling = {"maxSurge": surge, "maxUnavailable": unavailable}
        return {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": rolling}}}

    assert policy.rollout_extra_pods(deployment(1, 0), 10) == (1, 1)
    # 25% of 10: surge rounds up (3), unavailable down (2).
    assert policy.rollout_extra_pods(deployment("25%", "25%"), 10) == (3, 5)
    assert policy.rollout_extra_pods({"spec": {}}, 4) == (1, 2)


def test_staging_and_prod_differ_where_they_must(rendered):
    def issuer_server(env):
        (issuer,) = policy.of_kind(rendered[env], "Issuer")
        return issuer["spec"]["acme"]["server"]

    assert issuer_server("prod") == policy.ACME_PRODUCTION
    assert issuer_server("staging") == policy.ACME_STAGING
    (dev_issuer,) = policy.of_kind(rendered["dev"], "Issuer")
    assert dev_issuer["spec"] == {"selfSigned": {}}
    assert policy.of_kind(rendered["dev"], "Secret"), "dev generates its fake Secret"
    for env in policy.PROTECTED_ENVIRONMENTS:
        assert not policy.of_kind(rendered[env], "Secret")
        (external,) = policy.of_kind(rendered[env], "ExternalSecret")
        assert external["spec"]["dataFrom"][0]["extract"]["key"] == f"gold-platform/{env}"
        assert "replicas" not in policy.backend(rendered[env])["spec"]
    assert policy.backend(rendered["dev"])["spec"]["replicas"] == 1
