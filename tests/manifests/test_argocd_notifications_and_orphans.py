"""Who hears about what Argo CD does, and which leftovers it is told to expect.

The triggers are Argo CD's catalog triggers: this repository defines no
argocd-notifications-cm of its own (the installation's catalog does), so a
subscription to any other name would never fire.
"""

from __future__ import annotations

import fnmatch

import pytest

from tests.manifests.conftest import ROOT, policy

# Argo CD's notifications catalog (argocd-notifications-cm as installed).
CATALOG_TRIGGERS = {
    "on-created",
    "on-deleted",
    "on-deployed",
    "on-health-degraded",
    "on-sync-failed",
    "on-sync-running",
    "on-sync-status-unknown",
    "on-sync-succeeded",
}
SUBSCRIBE = "notifications.argoproj.io/subscribe."
EVERY_APPLICATION = {"on-sync-failed", "on-health-degraded"}
EXPECTED_TRIGGERS = {
    "gold-platform-root": EVERY_APPLICATION,
    "gold-platform-dev": EVERY_APPLICATION,
    "gold-platform-staging": EVERY_APPLICATION,
    "gold-platform-prod": EVERY_APPLICATION | {"on-deployed"},
}


def argocd_docs() -> list[dict]:
    return [d for p in sorted((ROOT / "argocd").rglob("*.yaml")) for d in policy.load_documents(p)]


def subscriptions(app: dict) -> dict[str, dict[str, str]]:
    """trigger -> {service: recipients}, from the subscribe annotations."""
    found: dict[str, dict[str, str]] = {}
    for key, value in policy.annotations(app).items():
        if key.startswith(SUBSCRIBE):
            trigger, _, service = key.removeprefix(SUBSCRIBE).partition(".")
            found.setdefault(trigger, {})[service] = value
    return found


def test_no_notifications_configmap_in_the_repository():
    names = {d["metadata"]["name"] for d in argocd_docs()}
    assert "argocd-notifications-cm" not in names  # else the catalog check below must read it


@pytest.mark.parametrize("name", sorted(EXPECTED_TRIGGERS))
def test_each_application_subscribes_to_what_it_must(name):
    (app,) = [d for d in argocd_docs() if d["metadata"]["name"] == name]
    subscribed = subscriptions(app)
    assert set(subscribed) == EXPECTED_TRIGGERS[name], subscribed
    assert set(subscribed) <= CATALOG_TRIGGERS
    for trigger, services in subscribed.items():
        assert services == {"slack": "gold-platform-alerts"}, (trigger, services)


def retained_objects(docs: list[dict]) -> set[tuple[str, str]]:
    """(kind, name) of what outlives the objects that made it, by design."""
    kept = set()
    for statefulset in policy.of_kind(docs, "StatefulSet"):
        spec = statefulset["spec"]
        retention = spec.get("persistentVolumeClaimRetentionPolicy", {}).get("whenDeleted")
        if retention in (None, "Retain"):
            for claim in spec.get("volumeClaimTemplates", []):
                for ordinal in range(spec.get("replicas", 1)):
                    name = (
                        f"{claim['metadata']['name']}-{statefulset['metadata']['name']}-{ordinal}"
                    )
                    kept.add(("PersistentVolumeClaim", name))
    for ingress in policy.of_kind(docs, "Ingress"):
        kept |= {("Secret", tls["secretName"]) for tls in ingress["spec"].get("tls", [])}
    for issuer in policy.of_kind(docs, "Issuer"):
        acme = issuer["spec"].get("acme")
        if acme:
            kept.add(("Secret", acme["privateKeySecretRef"]["name"]))
    return kept


def test_orphan_warnings_skip_exactly_what_is_kept_on_purpose(rendered):
    (project,) = [
        d
        for d in argocd_docs()
        if d["kind"] == "AppProject" and d["metadata"]["name"] == "gold-platform"
    ]
    orphans = project["spec"]["orphanedResources"]
    assert orphans["warn"] is True
    ignore = orphans["ignore"]
    assert all(entry.get("name") and entry["name"] != "*" for entry in ignore), ignore

    def ignored(kind: str, name: str) -> bool:
        return any(
            entry.get("group", "") == ""
            and entry["kind"] == kind
            and fnmatch.fnmatchcase(name, entry["name"])
            for entry in ignore
        )

    kept = set().union(*(retained_objects(rendered[env]) for env in policy.ENVIRONMENTS))
    assert {
        ("PersistentVolumeClaim", "data-postgres-0"),
        ("Secret", "gold-platform-tls"),
        ("Secret", "letsencrypt-production-account-key"),
        ("Secret", "letsencrypt-staging-account-key"),
    } <= kept
    assert [k for k in sorted(kept) if not ignored(*k)] == []
    # Nothing else the overlays render is hidden from the warning.
    rendered_objects = {
        (d["kind"], d["metadata"]["name"]) for env in policy.ENVIRONMENTS for d in rendered[env]
    }
    assert [k for k in sorted(rendered_objects) if ignored(*k)] == []
