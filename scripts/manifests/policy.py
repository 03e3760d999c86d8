"""Policy checks that only this project can make, over the rendered manifests
and the Argo CD files: the connection budget, sync waves, Argo CD project
rules, TLS issuers, secrets outside dev, kustomize source hygiene.

What generic tools check is theirs: kubeconform (schemas), kube-score and
checkov (security contexts, probes, resources, image tags, PDBs, HPA targets;
`make manifests-score`), the ValidatingAdmissionPolicies of
kustomize/cluster/admission-policies (enforced by the API server), and the
API server's own validation.

Each rule returns Violations that name the environment, the object
(Kind/namespace/name) and the rule, so a failing check says exactly what to
fix. Used by scripts/manifests/validate.py (the `make manifests` pipeline)
and by tests/manifests (one test per rule and environment).
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

ENVIRONMENTS = ("dev", "staging", "prod")
PROTECTED_ENVIRONMENTS = ("staging", "prod")
REPO_URL = "https://github.com/gold-platform/gold-platform.git"
TARGET_REVISION = "main"
# prod runs the commit its promotion PR pinned (scripts/gitops/promote.sh --commit prod).
PINNED_ENVIRONMENTS = ("prod",)
BACKEND_IMAGE = "ghcr.io/gold-platform/gold-platform"
ACME_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
ACME_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
# kustomization fields that are deprecated or removed in kustomize v5.
DEPRECATED_KUSTOMIZE_FIELDS = (
    "bases",
    "patchesStrategicMerge",
    "patchesJson6902",
    "vars",
    "commonLabels",
    "imageTags",
)
NOTIFICATION_TRIGGERS = ("on-sync-failed", "on-health-degraded")
# prod changes only when a person syncs it: it also says when it is deployed.
PROD_NOTIFICATION_TRIGGERS = (*NOTIFICATION_TRIGGERS, "on-deployed")
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "ClusterIssuer",
    "ClusterSecretStore",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ClusterImagePolicy",
}
# The cluster-scoped sets under kustomize/cluster, each synced by its own
# Argo CD Application, and the kinds each may hold.
CLUSTER_SETS = {
    "admission-policies": {
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ClusterImagePolicy",
    }
}
# Every environment's version file pins these images, all from the project's
# registry (the service, and its signed mirror of PostgreSQL and Redis), so
# that promotion carries all three and staging's and prod's signature policy
# (kustomize/cluster/admission-policies/image-signatures.yaml) covers them.
SIGNED_REGISTRY = "ghcr.io/gold-platform/"
VERSIONED_IMAGES = {
    "gold-platform": f"{SIGNED_REGISTRY}gold-platform",
    "docker.io/library/postgres": f"{SIGNED_REGISTRY}mirror/postgres",
    "docker.io/library/redis": f"{SIGNED_REGISTRY}mirror/redis",
}
SIGNATURE_NAMESPACE_LABEL = "policy.sigstore.dev/include"
GOLD_NAMESPACES = [f"gold-platform-{env}" for env in ENVIRONMENTS]


@dataclass(frozen=True)
class Violation:
    where: str  # environment name or a file path
    obj: str  # Kind/namespace/name
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.obj}: rule '{self.rule}': {self.message}"


# ---------------------------------------------------------------- helpers


def load_documents(path: Path) -> list[dict]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if isinstance(doc, dict)]


def obj_id(doc: dict) -> str:
    meta = doc.get("metadata") or {}
    namespace = meta.get("namespace")
    name = meta.get("name", "<unnamed>")
    kind = doc.get("kind", "<no kind>")
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def of_kind(docs: Iterable[dict], *kinds: str) -> list[dict]:
    return [d for d in docs if d.get("kind") in kinds]


def annotations(doc: dict) -> dict:
    return (doc.get("metadata") or {}).get("annotations") or {}


def pod_template(doc: dict) -> dict:
    spec = doc.get("spec") or {}
    if doc.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return spec.get("template") or {}


def pod_spec(doc: dict) -> dict:
    return pod_template(doc).get("spec") or {}


def containers(doc: dict) -> list[dict]:
    spec = pod_spec(doc)
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def pod_labels(doc: dict) -> dict:
    return (pod_template(doc).get("metadata") or {}).get("labels") or {}


def is_backend(doc: dict) -> bool:
    labels = pod_labels(doc)
    return (
        doc.get("kind") == "Deployment"
        and labels.get("app.kubernetes.io/name") == "gold-platform"
        and labels.get("app.kubernetes.io/component") == "api"
    )


def backend(docs: list[dict]) -> dict | None:
    found = [d for d in docs if is_backend(d)]
    return found[0] if found else None


def sync_wave(doc: dict) -> int:
    return int(annotations(doc).get("argocd.argoproj.io/sync-wave", "0"))


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """Return (repository, tag, digest) of an image reference."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        image, tag = image.rsplit(":", 1)
    return image, tag, digest


def config_values(docs: list[dict], deployment: dict) -> dict[str, str]:
    """Environment of the backend's first container: ConfigMaps + literal env."""
    values: dict[str, str] = {}
    by_name = {(d.get("metadata") or {}).get("name"): d for d in of_kind(docs, "ConfigMap")}
    container = (pod_spec(deployment).get("containers") or [{}])[0]
    for source in container.get("envFrom") or []:
        ref = (source.get("configMapRef") or {}).get("name")
        if ref in by_name:
            values.update({k: str(v) for k, v in (by_name[ref].get("data") or {}).items()})
    for item in container.get("env") or []:
        if "value" in item:
            values[item["name"]] = str(item["value"])
    return values


# ---------------------------------------------------------------- rules per environment

Rule = Callable[[str, list[dict]], list[Violation]]
RULES: dict[str, Rule] = {}


def rule(name: str) -> Callable[[Rule], Rule]:
    def register(func: Rule) -> Rule:
        RULES[name] = func
        return func

    return register


@rule("namespace")
def check_namespace(env: str, docs: list[dict]) -> list[Violation]:
    expected = f"gold-platform-{env}"
    out = []
    for doc in docs:
        if doc.get("kind") in CLUSTER_SCOPED_KINDS:
            out.append(
                Violation(env, obj_id(doc), "namespace", "cluster-scoped objects are not allowed")
            )
            continue
        namespace = (doc.get("metadata") or {}).get("namespace")
        if namespace != expected:
            out.append(
                Violation(
                    env, obj_id(doc), "namespace", f"namespace is {namespace!r}, not {expected!r}"
                )
            )
    return out


@rule("backend-image")
def check_backend_image(env: str, docs: list[dict]) -> list[Violation]:
    """Gold Platform pods run the release image, so the overlay lists its
    version component (a floating or missing tag is kube-score's and the
    admission policy's to refuse)."""
    out = []
    for doc in of_kind(docs, *WORKLOAD_KINDS):
        if pod_labels(doc).get("app.kubernetes.io/name") != "gold-platform":
            continue
        for container in containers(doc):
            image = container.get("image", "")
            repo, tag, digest = split_image(image)
            if repo != BACKEND_IMAGE or not (tag or digest):
                out.append(
                    Violation(
                        env,
                        obj_id(doc),
                        "backend-image",
                        f"container {container.get('name')}: image must be {BACKEND_IMAGE} with "
                        f"a tag or digest (got {image!r}); is the overlay's version component listed?",
                    )
                )
    return out


@rule("signed-registry")
def check_signed_registry(env: str, docs: list[dict]) -> list[Violation]:
    """Staging and prod admit only images their signature policy covers."""
    if env not in PROTECTED_ENVIRONMENTS:
        return []
    return [
        Violation(
            env,
            obj_id(doc),
            "signed-registry",
            f"container {c.get('name')}: {c.get('image')!r} is not from {SIGNED_REGISTRY}",
        )
        for doc in of_kind(docs, *WORKLOAD_KINDS)
        for c in containers(doc)
        if not c.get("image", "").startswith(SIGNED_REGISTRY)
    ]


@rule("autoscaling")
def check_autoscaling(env: str, docs: list[dict]) -> list[Violation]:
    """Staging and prod scale the backend with an HPA (that an HPA's target
    exists and has no fixed replicas is kube-score's to check)."""
    deployment = backend(docs)
    if env not in PROTECTED_ENVIRONMENTS or deployment is None:
        return []
    targets = {
        (ref.get("kind"), ref.get("name"))
        for ref in (
            (h.get("spec") or {}).get("scaleTargetRef") or {}
            for h in of_kind(docs, "HorizontalPodAutoscaler")
        )
    }
    if ("Deployment", deployment["metadata"]["name"]) in targets:
        return []
    return [
        Violation(
            env,
            obj_id(deployment),
            "autoscaling",
            f"{env} must autoscale the backend with a HorizontalPodAutoscaler",
        )
    ]


@rule("default-deny")
def check_default_deny(env: str, docs: list[dict]) -> list[Violation]:
    for policy in of_kind(docs, "NetworkPolicy"):
        spec = policy.get("spec") or {}
        if (
            spec.get("podSelector") == {}
            and set(spec.get("policyTypes") or []) == {"Ingress", "Egress"}
            and not spec.get("ingress")
            and not spec.get("egress")
        ):
            return []
    return [
        Violation(
            env,
            f"NetworkPolicy/gold-platform-{env}/*",
            "default-deny",
            "no default-deny NetworkPolicy (podSelector {}, Ingress+Egress, no rules)",
        )
    ]


@rule("no-plain-secret")
def check_secrets(env: str, docs: list[dict]) -> list[Violation]:
    if env not in PROTECTED_ENVIRONMENTS:
        return []
    out = []
    for secret in of_kind(docs, "Secret"):
        if secret.get("data") or secret.get("stringData"):
            out.append(
                Violation(
                    env,
                    obj_id(secret),
                    "no-plain-secret",
                    f"a Secret with data is in git for {env}; "
                    "use an ExternalSecret or SealedSecret",
                )
            )
    if not of_kind(docs, "ExternalSecret", "SealedSecret"):
        out.append(
            Violation(
                env,
                "ExternalSecret/gold-platform-secrets",
                "no-plain-secret",
                f"{env} must take its secrets from an ExternalSecret or SealedSecret",
            )
        )
    return out


@rule("tls-issuer")
def check_tls_issuer(env: str, docs: list[dict]) -> list[Violation]:
    out = []
    want = ACME_PRODUCTION if env == "prod" else ACME_STAGING
    issuers = {d["metadata"]["name"]: d for d in of_kind(docs, "Issuer")}
    for issuer in issuers.values():
        spec = issuer.get("spec") or {}
        if env not in PROTECTED_ENVIRONMENTS and "selfSigned" in spec:
            continue  # dev's host is not public: no ACME challenge can pass
        server = (spec.get("acme") or {}).get("server")
        if server != want:
            out.append(
                Violation(
                    env, obj_id(issuer), "tls-issuer", f"ACME server is {server}, {env} uses {want}"
                )
            )
    for ingress in of_kind(docs, "Ingress"):
        name = annotations(ingress).get("cert-manager.io/issuer")
        if not name:
            out.append(
                Violation(
                    env, obj_id(ingress), "tls-issuer", "no cert-manager.io/issuer annotation"
                )
            )
        elif name not in issuers:
            out.append(
                Violation(env, obj_id(ingress), "tls-issuer", f"Issuer {name!r} is not rendered")
            )
        if not (ingress.get("spec") or {}).get("tls"):
            out.append(Violation(env, obj_id(ingress), "tls-issuer", "Ingress has no tls section"))
    return out


@rule("sync-waves")
def check_sync_waves(env: str, docs: list[dict]) -> list[Violation]:
    out = []
    deployment = backend(docs)
    jobs = [
        d
        for d in of_kind(docs, "Job")
        if pod_labels(d).get("app.kubernetes.io/component") == "migrate"
    ]
    databases = of_kind(docs, "StatefulSet")
    secrets = of_kind(docs, "Secret", "ExternalSecret", "SealedSecret")
    if not jobs:
        return [Violation(env, "Job/gold-platform-migrate", "sync-waves", "no migration Job")]
    job = jobs[0]
    notes = annotations(job)
    if notes.get("argocd.argoproj.io/hook") not in ("Sync", "PreSync"):
        out.append(
            Violation(env, obj_id(job), "sync-waves", "migration Job is not an Argo CD hook")
        )
    if "BeforeHookCreation" not in notes.get("argocd.argoproj.io/hook-delete-policy", ""):
        out.append(
            Violation(
                env, obj_id(job), "sync-waves", "hook-delete-policy must be BeforeHookCreation"
            )
        )
    if "generateName" in (job.get("metadata") or {}):
        out.append(Violation(env, obj_id(job), "sync-waves", "use a fixed name, not generateName"))
    spec = job.get("spec") or {}
    for field in ("backoffLimit", "activeDeadlineSeconds"):
        if field not in spec:
            out.append(Violation(env, obj_id(job), "sync-waves", f"migration Job needs {field}"))
    if notes.get("argocd.argoproj.io/hook") == "Sync":
        for doc in secrets + databases:
            if sync_wave(doc) >= sync_wave(job):
                out.append(
                    Violation(
                        env,
                        obj_id(doc),
                        "sync-waves",
                        f"wave {sync_wave(doc)} must come before the migration "
                        f"(wave {sync_wave(job)})",
                    )
                )
    # What the service runs without (the cache) or what waits on add-ons the
    # cluster may lack (ingress controller, cert-manager) must not gate it.
    optional = of_kind(docs, "Issuer", "Ingress") + [
        d
        for d in of_kind(docs, "Deployment", "Service")
        if ((d.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/component")
        == "cache"
    ]
    if deployment is not None:
        for doc in optional:
            if sync_wave(doc) <= sync_wave(deployment):
                out.append(
                    Violation(
                        env,
                        obj_id(doc),
                        "sync-waves",
                        f"optional wave {sync_wave(doc)} must come after the backend "
                        f"(wave {sync_wave(deployment)})",
                    )
                )
    if deployment is not None and sync_wave(deployment) <= sync_wave(job):
        out.append(
            Violation(
                env,
                obj_id(deployment),
                "sync-waves",
                f"backend wave {sync_wave(deployment)} must come after the migration "
                f"(wave {sync_wave(job)})",
            )
        )
    return out


def connection_reserve(max_connections: int) -> int:
    """Connections kept free for superusers, the migration Job and operators."""
    return 10 + math.ceil(max_connections * 0.10)


def postgres_max_connections(statefulset: dict) -> int | None:
    for container in pod_spec(statefulset).get("containers") or []:
        args = [str(a) for a in (container.get("args") or []) + (container.get("command") or [])]
        for arg in args:
            match = re.fullmatch(r"max_connections=(\d+)", arg)
            if match:
                return int(match.group(1))
    return None


@rule("connection-budget")
def check_connection_budget(env: str, docs: list[dict]) -> list[Violation]:
    deployment = backend(docs)
    postgres = [
        d
        for d in of_kind(docs, "StatefulSet")
        if pod_labels(d).get("app.kubernetes.io/name") == "postgres"
    ]
    if deployment is None or not postgres:
        return [
            Violation(
                env, "Deployment/gold-platform", "connection-budget", "backend or postgres missing"
            )
        ]
    max_connections = postgres_max_connections(postgres[0])
    if max_connections is None:
        return [
            Violation(
                env,
                obj_id(postgres[0]),
                "connection-budget",
                "max_connections is not set explicitly (-c max_connections=N)",
            )
        ]
    name = deployment["metadata"]["name"]
    hpas = [
        h
        for h in of_kind(docs, "HorizontalPodAutoscaler")
        if ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("name") == name
    ]
    replicas = (
        hpas[0]["spec"]["maxReplicas"]
        if hpas
        else (deployment.get("spec") or {}).get("replicas", 1)
    )
    surge, terminating = rollout_extra_pods(deployment, replicas)
    config = config_values(docs, deployment)
    try:
        workers = int(config.get("WEB_CONCURRENCY", "4"))
        pool = int(config.get("DATABASE_POOL_SIZE", "20")) + int(
            config.get("DATABASE_MAX_OVERFLOW", "10")
        )
    except ValueError as exc:
        return [Violation(env, obj_id(deployment), "connection-budget", f"bad setting: {exc}")]
    pods = replicas + surge + terminating
    demand = pods * workers * pool
    available = max_connections - connection_reserve(max_connections)
    if demand >= available:
        return [
            Violation(
                env,
                obj_id(deployment),
                "connection-budget",
                f"({replicas} max replicas + {surge} surge + {terminating} terminating) "
                f"x {workers} workers x {pool} pool = {demand} connections, not under "
                f"max_connections {max_connections} - reserve "
                f"{connection_reserve(max_connections)} = {available}",
            )
        ]
    return []


def rollout_extra_pods(deployment: dict, replicas: int) -> tuple[int, int]:
    """Pods beyond `replicas` that hold database pools during a rolling update.

    The surge pods start while the pods a rollout step replaces are still in
    their grace period (draining, pools open): one step can take down
    maxSurge + maxUnavailable old pods. Percentages round as the Deployment
    controller rounds them (surge up, unavailable down).
    """
    rolling = ((deployment.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}

    def pods(value: int | str, rounding: Callable[[float], int]) -> int:
        if isinstance(value, str) and value.endswith("%"):
            return rounding(replicas * int(value[:-1]) / 100)
        return int(value)

    surge = pods(rolling.get("maxSurge", "25%"), math.ceil)
    unavailable = pods(rolling.get("maxUnavailable", "25%"), math.floor)
    return surge, surge + unavailable


def check_environment(env: str, docs: list[dict]) -> list[Violation]:
    out: list[Violation] = []
    for check in RULES.values():
        out.extend(check(env, docs))
    return out


# ---------------------------------------------------------------- sources and Argo CD


def check_kustomize_sources(kustomize_dir: Path) -> list[Violation]:
    """Only current kustomize fields; version files are one images entry."""
    out = []
    for path in sorted(kustomize_dir.rglob("kustomization.yaml")):
        doc = yaml.safe_load(path.read_text()) or {}
        for field in DEPRECATED_KUSTOMIZE_FIELDS:
            if field in doc:
                out.append(
                    Violation(
                        str(path),
                        doc.get("kind", "Kustomization"),
                        "kustomize-fields",
                        f"deprecated field {field!r}; use patches/resources/labels",
                    )
                )
        if path.parent.name == "version":
            if doc.get("kind") != "Component" or set(doc) - {"apiVersion", "kind", "images"}:
                out.append(
                    Violation(
                        str(path),
                        "Component",
                        "version-file",
                        "must be a Component holding only an images: entry",
                    )
                )
            images = {i.get("name"): i.get("newName") for i in doc.get("images") or []}
            if images != VERSIONED_IMAGES:
                out.append(
                    Violation(
                        str(path),
                        "Component",
                        "version-file",
                        f"images must map exactly {VERSIONED_IMAGES} (name: newName)",
                    )
                )
    return out


def check_cluster_set(name: str, docs: list[dict]) -> list[Violation]:
    """A set under kustomize/cluster: only its cluster-scoped kinds, no
    namespace (kustomize v5.8.1 would add one if it were an overlay's), names
    of this project, and bindings to policies of the set."""
    where = f"cluster/{name}"
    allowed = CLUSTER_SETS[name]
    out = []
    for doc in docs:
        meta = doc.get("metadata") or {}
        if doc.get("kind") not in allowed:
            out.append(Violation(where, obj_id(doc), "cluster-set", f"only {sorted(allowed)}"))
        if "namespace" in meta:
            out.append(Violation(where, obj_id(doc), "cluster-set", "cluster-scoped: no namespace"))
        if not str(meta.get("name", "")).startswith("gold-platform-"):
            out.append(
                Violation(where, obj_id(doc), "cluster-set", "name must start gold-platform-")
            )
    policies = {d["metadata"]["name"] for d in of_kind(docs, "ValidatingAdmissionPolicy")}
    for binding in of_kind(docs, "ValidatingAdmissionPolicyBinding"):
        spec = binding.get("spec") or {}
        if spec.get("policyName") not in policies:
            out.append(
                Violation(
                    where,
                    obj_id(binding),
                    "cluster-set",
                    f"policyName {spec.get('policyName')!r} is not a policy of this set",
                )
            )
        selected = selected_namespaces(binding)
        if selected is None or not set(selected) <= set(GOLD_NAMESPACES):
            out.append(
                Violation(
                    where,
                    obj_id(binding),
                    "cluster-set",
                    "must select namespaces by kubernetes.io/metadata.name In, "
                    f"among {GOLD_NAMESPACES} (got {selected})",
                )
            )
    return out


def selected_namespaces(binding: dict) -> list[str] | None:
    """The namespace names a binding selects, or None if it selects otherwise."""
    selector = ((binding.get("spec") or {}).get("matchResources") or {}).get(
        "namespaceSelector"
    ) or {}
    expressions = selector.get("matchExpressions") or []
    if selector.get("matchLabels") or len(expressions) != 1:
        return None
    (expression,) = expressions
    if expression.get("key") != "kubernetes.io/metadata.name" or expression.get("operator") != "In":
        return None
    return list(expression.get("values") or [])


def check_argocd(
    root: Path, argocd_docs: list[tuple[Path, dict]], rendered: dict[str, list[dict]]
) -> list[Violation]:
    """`rendered` maps each source path (kustomize/overlays/<env>,
    kustomize/cluster/<set>) to the objects it renders."""
    out = []
    projects = {d["metadata"]["name"]: d for _, d in argocd_docs if d.get("kind") == "AppProject"}
    apps = [(p, d) for p, d in argocd_docs if d.get("kind") == "Application"]
    synced_paths = set()
    for path, app in apps:
        where = str(path)
        oid = obj_id(app)
        spec = app.get("spec") or {}
        source = spec.get("source") or {}
        dest = spec.get("destination") or {}
        app_path = source.get("path", "")
        if source.get("repoURL") != REPO_URL:
            out.append(Violation(where, oid, "argocd-source", f"repoURL must be {REPO_URL}"))
        env = app_path.removeprefix("kustomize/overlays/") if app_path else ""
        if env in PINNED_ENVIRONMENTS:
            if not re.fullmatch(r"[0-9a-f]{40}", str(source.get("targetRevision", ""))):
                out.append(
                    Violation(
                        where, oid, "argocd-source", "targetRevision must be a full commit SHA"
                    )
                )
        elif source.get("targetRevision") != TARGET_REVISION:
            out.append(
                Violation(where, oid, "argocd-source", f"targetRevision must be {TARGET_REVISION}")
            )
        target = root / app_path
        if not app_path or not target.is_dir():
            out.append(
                Violation(where, oid, "argocd-path", f"source path {app_path!r} does not exist")
            )
        elif app_path.startswith(("kustomize/overlays/", "kustomize/cluster/")):
            synced_paths.add(app_path)
            if app_path not in rendered:
                out.append(Violation(where, oid, "argocd-path", f"{app_path} did not build"))
            expected = f"gold-platform-{env}" if env in ENVIRONMENTS else ""
            if app_path in rendered and dest.get("namespace", "") != expected:
                out.append(
                    Violation(
                        where,
                        oid,
                        "argocd-destination",
                        f"destination namespace {dest.get('namespace')!r} for {app_path} "
                        f"(expected {expected!r})",
                    )
                )
        elif not list(target.glob("*.yaml")):
            out.append(Violation(where, oid, "argocd-path", f"{app_path} holds no manifests"))
        project = projects.get(spec.get("project"))
        if project is None:
            out.append(
                Violation(
                    where,
                    oid,
                    "argocd-project",
                    f"AppProject {spec.get('project')!r} is not defined in argocd/",
                )
            )
            continue
        out += project_admits(where, oid, project, source, dest, rendered.get(app_path, []))
        if env in ENVIRONMENTS:
            out += check_environment_app(where, oid, env, app)
    for app_path in sorted(set(rendered) - synced_paths):
        out.append(
            Violation("argocd/", app_path, "argocd-path", f"no Application syncs {app_path}")
        )
    return out


def project_admits(
    where: str, oid: str, project: dict, source: dict, dest: dict, docs: list[dict]
) -> list[Violation]:
    """The project allows the Application's repo and destination and every
    kind its source renders (cluster-scoped ones by kind and name)."""
    out = []
    name = project["metadata"]["name"]
    pspec = project.get("spec") or {}
    if source.get("repoURL") not in (pspec.get("sourceRepos") or []):
        out.append(
            Violation(where, oid, "argocd-project", f"project {name} does not allow the repo")
        )
    admitted = any(
        fnmatch.fnmatch(dest.get("namespace", ""), d.get("namespace", ""))
        and fnmatch.fnmatch(dest.get("server", ""), d.get("server", ""))
        for d in pspec.get("destinations") or []
    )
    if not admitted:
        out.append(
            Violation(
                where,
                oid,
                "argocd-project",
                f"project {name} does not admit destination "
                f"{dest.get('server')} / {dest.get('namespace')}",
            )
        )
    namespaced = {
        (k.get("group", ""), k.get("kind")) for k in pspec.get("namespaceResourceWhitelist") or []
    }
    cluster = pspec.get("clusterResourceWhitelist") or []
    for doc in docs:
        group = doc.get("apiVersion", "").rpartition("/")[0]
        kind = doc.get("kind")
        if kind in CLUSTER_SCOPED_KINDS:
            allowed = any(
                k.get("group", "") == group
                and k.get("kind") == kind
                and fnmatch.fnmatch(doc["metadata"]["name"], k.get("name") or "*")
                for k in cluster
            )
            whitelist = "clusterResourceWhitelist"
        else:
            allowed = (group, kind) in namespaced or ("*", "*") in namespaced
            whitelist = "namespaceResourceWhitelist"
        if not allowed:
            out.append(
                Violation(
                    where,
                    oid,
                    "argocd-project",
                    f"{obj_id(doc)} ({group or 'core'}/{kind}) is not in the {whitelist} of {name}",
                )
            )
    return out


def check_environment_app(where: str, oid: str, env: str, app: dict) -> list[Violation]:
    """Notifications on every environment; prod synced by hand, the others
    automatically with prune and self-heal."""
    out = []
    notes = annotations(app)
    for trigger in PROD_NOTIFICATION_TRIGGERS if env == "prod" else NOTIFICATION_TRIGGERS:
        if not any(k.startswith(f"notifications.argoproj.io/subscribe.{trigger}.") for k in notes):
            out.append(
                Violation(where, oid, "argocd-notifications", f"no subscription for {trigger}")
            )
    automated = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
    if env == "prod":
        if automated:
            out.append(
                Violation(
                    where, oid, "argocd-sync", "prod must be synced by hand (no automated sync)"
                )
            )
    elif not (automated and automated.get("prune") and automated.get("selfHeal")):
        out.append(
            Violation(
                where, oid, "argocd-sync", f"{env} needs automated sync with prune and selfHeal"
            )
        )
    labels = (app["spec"].get("syncPolicy") or {}).get("managedNamespaceMetadata", {}).get("labels")
    if env in PROTECTED_ENVIRONMENTS and (labels or {}).get(SIGNATURE_NAMESPACE_LABEL) != "true":
        out.append(
            Violation(
                where,
                oid,
                "argocd-signatures",
                f'{env}\'s namespace must be labelled {SIGNATURE_NAMESPACE_LABEL}: "true"',
            )
        )
    return out
