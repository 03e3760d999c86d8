"""Each kind of broken change is caught by the `make manifests` pipeline.

Every test copies kustomize/ and argocd/ into a temporary tree, injects one
fault, runs scripts/manifests/validate.py exactly as make does, and asserts a
non-zero exit with a message naming the object and the rule or field.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.manifests.conftest import Tools

# Each test runs the whole pipeline (about 2 s): fault injection is "slow".
pytestmark = pytest.mark.slow


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture drift: {old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def add_resource(overlay: Path, filename: str, content: str) -> None:
    (overlay / filename).write_text(content)
    edit(
        overlay / "kustomization.yaml",
        "resources:\n  - ../../base\n",
        f"resources:\n  - ../../base\n  - {filename}\n",
    )


def failed(tools: Tools, root: Path) -> str:
    result = tools.validate(root, root / ".cache" / "rendered")
    output = result.stdout + result.stderr
    assert result.returncode == 1, f"expected a failure, got {result.returncode}:\n{output}"
    assert "validate: FAILED" in result.stderr
    return result.stderr


def test_unmodified_copy_passes(tools: Tools, repo_copy: Path):
    result = tools.validate(repo_copy, repo_copy / ".cache" / "rendered")
    assert result.returncode == 0, result.stdout + result.stderr


def test_typo_in_a_field_is_caught(tools: Tools, repo_copy: Path):
    edit(repo_copy / "kustomize/base/backend/deployment.yaml", "readinessProbe:", "readinesProbe:")
    errors = failed(tools, repo_copy)
    for env in ("dev", "staging", "prod"):
        assert f"{env}.yaml - Deployment gold-platform is invalid" in errors
    assert "additional properties 'readinesProbe' not allowed" in errors
    assert "/spec/template/spec/containers/0" in errors


def test_typo_in_an_argocd_file_is_caught(tools: Tools, repo_copy: Path):
    edit(repo_copy / "argocd/apps/staging.yaml", "selfHeal: true", "selfheal: true")
    errors = failed(tools, repo_copy)
    assert "argocd/apps/staging.yaml - Application gold-platform-staging is invalid" in errors
    assert "'selfheal' not allowed" in errors


def test_unknown_crd_kind_fails_instead_of_being_skipped(tools: Tools, repo_copy: Path):
    add_resource(
        repo_copy / "kustomize/overlays/dev",
        "widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: gizmo\nspec:\n  size: 3\n",
    )
    errors = failed(tools, repo_copy)
    assert "dev.yaml - Widget gizmo failed validation: could not find schema for Widget" in errors


def test_misspelled_known_crd_kind_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "kustomize/components/monitoring/servicemonitor.yaml",
        "kind: ServiceMonitor",
        "kind: ServiceMonitors",
    )
    errors = failed(tools, repo_copy)
    assert "could not find schema for ServiceMonitors" in errors


def test_plain_text_prod_secret_is_caught(tools: Tools, repo_copy: Path):
    add_resource(
        repo_copy / "kustomize/overlays/prod",
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked\n"
        "stringData:\n  OPERATOR_API_KEY: hunter2\n",
    )
    errors = failed(tools, repo_copy)
    assert "policy: prod: Secret/gold-platform-prod/leaked: rule 'no-plain-secret'" in errors


def test_secret_generator_in_prod_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "kustomize/overlays/prod/kustomization.yaml",
        "patches:\n",
        "secretGenerator:\n  - name: extra\n    literals:\n      - TOKEN=abc\n\npatches:\n",
    )
    errors = failed(tools, repo_copy)
    assert "prod: Secret/gold-platform-prod/extra-" in errors
    assert "rule 'no-plain-secret'" in errors


def test_overlay_without_version_component_is_caught(tools: Tools, repo_copy: Path):
    edit(repo_copy / "kustomize/overlays/staging/kustomization.yaml", "  - version\n", "")
    errors = failed(tools, repo_copy)
    assert "staging: Deployment/gold-platform-staging/gold-platform: rule 'backend-image'" in errors
    assert "(got 'gold-platform'); is the overlay's version component listed?" in errors


def test_connection_budget_overrun_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "kustomize/overlays/prod/kustomization.yaml",
        "DATABASE_POOL_SIZE=8",
        "DATABASE_POOL_SIZE=20",
    )
    errors = failed(tools, repo_copy)
    assert (
        "prod: Deployment/gold-platform-prod/gold-platform: rule 'connection-budget': "
        "(10 max replicas + 1 surge + 1 terminating) x 2 workers x 22 pool = 528 connections, "
        "not under max_connections 300 - reserve 40 = 260"
    ) in errors


def test_missing_default_deny_is_caught(tools: Tools, repo_copy: Path):
    edit(repo_copy / "kustomize/base/kustomization.yaml", "  - network/default-deny.yaml\n", "")
    errors = failed(tools, repo_copy)
    assert "prod: NetworkPolicy/gold-platform-prod/*: rule 'default-deny'" in errors


def test_migration_after_backend_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "kustomize/base/backend/deployment.yaml",
        'argocd.argoproj.io/sync-wave: "1"',
        'argocd.argoproj.io/sync-wave: "0"',
    )
    errors = failed(tools, repo_copy)
    assert (
        "dev: Deployment/gold-platform-dev/gold-platform: rule 'sync-waves': "
        "backend wave 0 must come after the migration (wave 0)"
    ) in errors


def test_optional_cache_before_the_backend_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "kustomize/base/redis/deployment.yaml",
        'argocd.argoproj.io/sync-wave: "2"',
        'argocd.argoproj.io/sync-wave: "-1"',
    )
    errors = failed(tools, repo_copy)
    assert (
        "dev: Deployment/gold-platform-dev/redis: rule 'sync-waves': "
        "optional wave -1 must come after the backend (wave 1)"
    ) in errors


def test_production_issuer_outside_prod_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "kustomize/overlays/staging/kustomization.yaml",
        "tls-issuer-staging",
        "tls-issuer-production",
    )
    errors = failed(tools, repo_copy)
    assert "staging: Issuer/gold-platform-staging/letsencrypt: rule 'tls-issuer'" in errors


def test_application_with_missing_path_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "argocd/apps/staging.yaml",
        "path: kustomize/overlays/staging",
        "path: kustomize/overlays/stagin",
    )
    errors = failed(tools, repo_copy)
    assert (
        "Application/argocd/gold-platform-staging: rule 'argocd-path': "
        "source path 'kustomize/overlays/stagin' does not exist"
    ) in errors


def test_destination_outside_the_project_is_caught(tools: Tools, repo_copy: Path):
    project = repo_copy / "argocd/apps/project.yaml"
    doc = yaml.safe_load(project.read_text())
    doc["spec"]["destinations"] = [
        d for d in doc["spec"]["destinations"] if d["namespace"] != "gold-platform-prod"
    ]
    project.write_text(yaml.safe_dump(doc, sort_keys=False))
    errors = failed(tools, repo_copy)
    assert (
        "Application/argocd/gold-platform-prod: rule 'argocd-project': project gold-platform "
        "does not admit destination https://kubernetes.default.svc / gold-platform-prod"
    ) in errors


def test_kind_outside_the_project_whitelist_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "argocd/apps/project.yaml",
        "    - group: autoscaling\n      kind: HorizontalPodAutoscaler\n",
        "",
    )
    errors = failed(tools, repo_copy)
    assert "HorizontalPodAutoscaler/gold-platform-prod/gold-platform (autoscaling/" in errors
    assert "is not in the namespaceResourceWhitelist of gold-platform" in errors


def test_automated_prod_sync_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "argocd/apps/prod.yaml",
        "  syncPolicy:\n",
        "  syncPolicy:\n    automated:\n      prune: true\n",
    )
    errors = failed(tools, repo_copy)
    assert "gold-platform-prod: rule 'argocd-sync': prod must be synced by hand" in errors


def test_deprecated_kustomize_field_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "kustomize/overlays/dev/kustomization.yaml",
        "labels:\n",
        "commonLabels:\n  team: gold\n\nlabels:\n",
    )
    errors = failed(tools, repo_copy)
    assert "overlays/dev/kustomization.yaml: Kustomization: rule 'kustomize-fields'" in errors
    assert "deprecated field 'commonLabels'" in errors


def test_broken_overlay_names_the_environment(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "kustomize/overlays/staging/kustomization.yaml",
        "  - ../../components/hpa\n",
        "  - ../../components/hpaa\n",
    )
    errors = failed(tools, repo_copy)
    assert "render staging: kustomize build" in errors
    assert "Application/argocd/gold-platform-staging: rule 'argocd-path'" in errors


def test_self_signed_issuer_outside_dev_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "kustomize/overlays/staging/kustomization.yaml",
        "../../components/tls-issuer-staging",
        "../../components/tls-issuer-selfsigned",
    )
    errors = failed(tools, repo_copy)
    assert "staging: Issuer/gold-platform-staging/selfsigned: rule 'tls-issuer'" in errors


def test_admission_policy_with_a_namespace_is_caught(tools: Tools, repo_copy: Path):
    # What kustomize v5.8.1 does if the set is ever built with a namespace.
    edit(
        repo_copy / "kustomize/cluster/admission-policies/kustomization.yaml",
        "kind: Kustomization\n",
        "kind: Kustomization\nnamespace: gold-platform-prod\n",
    )
    errors = failed(tools, repo_copy)
    assert (
        "cluster/admission-policies: ValidatingAdmissionPolicy/gold-platform-prod/"
        "gold-platform-pod-hardening: rule 'cluster-set': cluster-scoped: no namespace"
    ) in errors


def test_admission_policy_outside_the_cluster_project_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "argocd/apps/cluster-policies.yaml",
        "      kind: ValidatingAdmissionPolicy\n      name: gold-platform-*\n",
        "      kind: ValidatingAdmissionPolicy\n      name: platform-team-*\n",
    )
    errors = failed(tools, repo_copy)
    assert (
        "Application/argocd/gold-platform-admission-policies: rule 'argocd-project': "
        "ValidatingAdmissionPolicy/gold-platform-pod-hardening "
        "(admissionregistration.k8s.io/ValidatingAdmissionPolicy) is not in the "
        "clusterResourceWhitelist of gold-platform-cluster"
    ) in errors


def test_staging_namespace_without_signature_verification_is_caught(tools: Tools, repo_copy: Path):
    edit(
        repo_copy / "argocd/apps/staging.yaml", 'policy.sigstore.dev/include: "true"', 'other: "x"'
    )
    errors = failed(tools, repo_copy)
    assert "rule 'argocd-signatures'" in errors
    assert "staging's namespace must be labelled policy.sigstore.dev/include" in errors


def test_an_image_from_outside_the_signed_registry_in_prod_is_caught(tools: Tools, repo_copy: Path):
    # Redis from Docker Hub instead of the project's signed mirror.
    edit(
        repo_copy / "kustomize/overlays/prod/version/kustomization.yaml",
        "    newName: ghcr.io/gold-platform/mirror/redis\n",
        "    newName: docker.io/library/redis\n",
    )
    errors = failed(tools, repo_copy)
    assert "Deployment/gold-platform-prod/redis: rule 'signed-registry'" in errors
    assert "is not from ghcr.io/gold-platform/" in errors
    assert "prod/version/kustomization.yaml: Component: rule 'version-file'" in errors
