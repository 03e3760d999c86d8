"""Policy checks over rendered Kubernetes manifests and the Argo CD files.

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
IN_CLUSTER = "https://kubernetes.default.svc"
BACKEND_IMAGE = "ghcr.io/gold-platform/gold-platform"
BACKEND_UID = 1000
# Tags that move: never acceptable where a version must be pinned.
FLOATING_TAGS = {"latest", "main", "master", "dev", "develop", "stable", "edge", "nightly"}
ACME_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
ACME_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")
LONG_RUNNING_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
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
}


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


def pod_spec(doc: dict) -> dict:
    return ((doc.get("spec") or {}).get("template") or {}).get("spec") or {}


def containers(doc: dict) -> list[dict]:
    spec = pod_spec(doc)
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def labels_match(selector: dict, labels: dict) -> bool:
    match = selector.get("matchLabels") or {}
    if not match and not selector.get("matchExpressions"):
        return False
    return all(labels.get(k) == v for k, v in match.items())


def pod_labels(doc: dict) -> dict:
    return (((doc.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
        "labels"
    ) or {}


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


@rule("security-context")
def check_security_context(env: str, docs: list[dict]) -> list[Violation]:
    out = []
    for doc in of_kind(docs, *WORKLOAD_KINDS):
        spec = pod_spec(doc)
        pod_sc = spec.get("securityContext") or {}

        def bad(message: str, _doc: dict = doc) -> None:
            out.append(Violation(env, obj_id(_doc), "security-context", message))

        if pod_sc.get("runAsNonRoot") is not True:
            bad("pod securityContext.runAsNonRoot must be true")
        if spec.get("automountServiceAccountToken") is not False:
            bad("automountServiceAccountToken must be false (no workload calls the API)")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            bad("host namespaces are not allowed")
        if is_backend(doc) or (pod_labels(doc).get("app.kubernetes.io/name") == "gold-platform"):
            if pod_sc.get("runAsUser") != BACKEND_UID:
                bad(f"Gold Platform pods run as uid {BACKEND_UID} (runAsUser)")
        for container in containers(doc):
            name = container.get("name")
            sc = container.get("securityContext") or {}
            seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
            if seccomp != "RuntimeDefault":
                bad(f"container {name}: seccompProfile must be RuntimeDefault")
            if sc.get("allowPrivilegeEscalation") is not False:
                bad(f"container {name}: allowPrivilegeEscalation must be false")
            if sc.get("readOnlyRootFilesystem") is not True:
                bad(f"container {name}: readOnlyRootFilesystem must be true")
            if sc.get("privileged"):
                bad(f"container {name}: privileged is not allowed")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                bad(f"container {name}: capabilities.drop must contain ALL")
            if (sc.get("capabilities") or {}).get("add"):
                bad(f"container {name}: no capabilities may be added")
            if sc.get("runAsUser") == 0:
                bad(f"container {name}: runAsUser 0 (root) is not allowed")
    return out


@rule("probes")
def check_probes(env: str, docs: list[dict]) -> list[Violation]:
    out = []
    for doc in of_kind(docs, *LONG_RUNNING_KINDS):
        for container in pod_spec(doc).get("containers") or []:
            name = container.get("name")
            for probe in ("livenessProbe", "readinessProbe"):
                if not container.get(probe):
                    out.append(
                        Violation(env, obj_id(doc), "probes", f"container {name}: no {probe}")
                    )
        if is_backend(doc):
            main = (pod_spec(doc).get("containers") or [{}])[0]
            expected = {
                "livenessProbe": "/health",
                "readinessProbe": "/health/ready",
                "startupProbe": "/health",
            }
            for probe, path in expected.items():
                got = ((main.get(probe) or {}).get("httpGet") or {}).get("path")
                if got != path:
                    out.append(
                        Violation(
                            env,
                            obj_id(doc),
                            "probes",
                            f"backend {probe} must GET {path} (found {got!r})",
                        )
                    )
            startup = main.get("startupProbe") or {}
            budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
            if startup and budget < 30:
                out.append(
                    Violation(
                        env,
                        obj_id(doc),
                        "probes",
                        f"startupProbe allows {budget}s, the service needs 30s",
                    )
                )
            if not ((main.get("lifecycle") or {}).get("preStop")):
                out.append(
                    Violation(env, obj_id(doc), "probes", "backend needs a preStop drain delay")
                )
    return out


@rule("resources")
def check_resources(env: str, docs: list[dict]) -> list[Violation]:
    out = []
    for doc in of_kind(docs, *WORKLOAD_KINDS):
        for container in containers(doc):
            res = container.get("resources") or {}
            for section in ("requests", "limits"):
                for key in ("cpu", "memory"):
                    if not (res.get(section) or {}).get(key):
                        out.append(
                            Violation(
                                env,
                                obj_id(doc),
                                "resources",
                                f"container {container.get('name')}: no {section}.{key}",
                            )
                        )
        if is_backend(doc):
            res = ((pod_spec(doc).get("containers") or [{}])[0]).get("resources") or {}
            want = {"requests": ("250m", "256Mi"), "limits": ("500m", "512Mi")}
            for section, (cpu, memory) in want.items():
                got = res.get(section) or {}
                if str(got.get("cpu")) != cpu or str(got.get("memory")) != memory:
                    out.append(
                        Violation(
                            env,
                            obj_id(doc),
                            "resources",
                            f"backend {section} must be cpu {cpu} / memory {memory}",
                        )
                    )
    return out


@rule("image-pinned")
def check_images(env: str, docs: list[dict]) -> list[Violation]:
    out = []
    for doc in of_kind(docs, *WORKLOAD_KINDS):
        for container in containers(doc):
            image = container.get("image", "")
            repo, tag, digest = split_image(image)
            name = container.get("name")
            if digest:
                if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
                    out.append(
                        Violation(
                            env, obj_id(doc), "image-pinned", f"{name}: malformed digest {image!r}"
                        )
                    )
                continue
            if not tag:
                out.append(
                    Violation(
                        env,
                        obj_id(doc),
                        "image-pinned",
                        f"container {name}: image {image!r} has no tag or digest",
                    )
                )
            elif tag in FLOATING_TAGS:
                out.append(
                    Violation(
                        env,
                        obj_id(doc),
                        "image-pinned",
                        f"container {name}: image {image!r} uses the floating tag {tag!r}",
                    )
                )
            if pod_labels(doc).get("app.kubernetes.io/name") == "gold-platform" and (
                repo != BACKEND_IMAGE
            ):
                out.append(
                    Violation(
                        env,
                        obj_id(doc),
                        "image-pinned",
                        f"container {name}: image must be {BACKEND_IMAGE} (got {image!r}); "
                        "is the overlay's version component listed?",
                    )
                )
    return out


@rule("hpa-replicas")
def check_hpa(env: str, docs: list[dict]) -> list[Violation]:
    out = []
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    targets = {
        ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("kind", "")
        + "/"
        + ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("name", ""): h
        for h in hpas
    }
    for doc in of_kind(docs, "Deployment", "StatefulSet"):
        key = f"{doc['kind']}/{doc['metadata']['name']}"
        if key in targets and "replicas" in (doc.get("spec") or {}):
            out.append(
                Violation(
                    env,
                    obj_id(doc),
                    "hpa-replicas",
                    f"spec.replicas is set but {obj_id(targets[key])} manages the replica count; "
                    "remove replicas (Argo CD and the HPA would fight over it)",
                )
            )
    for hpa in hpas:
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        names = {f"{d['kind']}/{d['metadata']['name']}" for d in of_kind(docs, ref.get("kind", ""))}
        if f"{ref.get('kind')}/{ref.get('name')}" not in names:
            out.append(
                Violation(env, obj_id(hpa), "hpa-replicas", f"scaleTargetRef {ref} does not exist")
            )
        if spec.get("minReplicas", 1) > spec.get("maxReplicas", 0):
            out.append(Violation(env, obj_id(hpa), "hpa-replicas", "minReplicas > maxReplicas"))
    if env in PROTECTED_ENVIRONMENTS:
        deployment = backend(docs)
        if deployment is not None and f"Deployment/{deployment['metadata']['name']}" not in targets:
            out.append(
                Violation(
                    env,
                    obj_id(deployment),
                    "hpa-replicas",
                    f"{env} must autoscale the backend with a HorizontalPodAutoscaler",
                )
            )
    return out


@rule("pdb")
def check_pdb(env: str, docs: list[dict]) -> list[Violation]:
    deployment = backend(docs)
    if deployment is None:
        return [Violation(env, "Deployment/gold-platform", "pdb", "backend Deployment is missing")]
    labels = pod_labels(deployment)
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        if labels_match((pdb.get("spec") or {}).get("selector") or {}, labels):
            return []
    return [
        Violation(
            env,
            obj_id(deployment),
            "pdb",
            "no PodDisruptionBudget selects the backend pods",
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
            images = doc.get("images") or []
            if [i.get("name") for i in images] != ["gold-platform"]:
                out.append(
                    Violation(
                        str(path),
                        "Component",
                        "version-file",
                        "must have exactly one images entry named gold-platform",
                    )
                )
    return out


def check_argocd(
    root: Path, argocd_docs: list[tuple[Path, dict]], rendered: dict[str, list[dict]]
) -> list[Violation]:
    out = []
    projects = {d["metadata"]["name"]: d for _, d in argocd_docs if d.get("kind") == "AppProject"}
    apps = [(p, d) for p, d in argocd_docs if d.get("kind") == "Application"]
    env_apps = {}
    for path, app in apps:
        where = str(path)
        oid = obj_id(app)
        spec = app.get("spec") or {}
        source = spec.get("source") or {}
        dest = spec.get("destination") or {}
        if source.get("repoURL") != REPO_URL:
            out.append(Violation(where, oid, "argocd-source", f"repoURL must be {REPO_URL}"))
        if source.get("targetRevision") != TARGET_REVISION:
            out.append(
                Violation(where, oid, "argocd-source", f"targetRevision must be {TARGET_REVISION}")
            )
        app_path = source.get("path", "")
        target = root / app_path
        if not app_path or not target.is_dir():
            out.append(
                Violation(where, oid, "argocd-path", f"source path {app_path!r} does not exist")
            )
        elif app_path.startswith("kustomize/overlays/"):
            env = app_path.rsplit("/", 1)[-1]
            env_apps[env] = app
            if env not in rendered:
                out.append(Violation(where, oid, "argocd-path", f"{app_path} did not build"))
            elif dest.get("namespace") != f"gold-platform-{env}":
                out.append(
                    Violation(
                        where,
                        oid,
                        "argocd-destination",
                        f"destination namespace {dest.get('namespace')!r} for overlay {env}",
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
        pspec = project.get("spec") or {}
        if source.get("repoURL") not in (pspec.get("sourceRepos") or []):
            out.append(
                Violation(
                    where,
                    oid,
                    "argocd-project",
                    f"project {project['metadata']['name']} does not allow the repo",
                )
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
                    f"project {project['metadata']['name']} does not admit destination "
                    f"{dest.get('server')} / {dest.get('namespace')}",
                )
            )
        if env_apps.get(app_path.rsplit("/", 1)[-1]) is app:
            env = app_path.rsplit("/", 1)[-1]
            allowed = {
                (k.get("group", ""), k.get("kind"))
                for k in pspec.get("namespaceResourceWhitelist") or []
            }
            for doc in rendered.get(env, []):
                group = doc.get("apiVersion", "").rpartition("/")[0]
                if (group, doc.get("kind")) not in allowed and ("*", "*") not in allowed:
                    out.append(
                        Violation(
                            where,
                            oid,
                            "argocd-project",
                            f"{obj_id(doc)} ({group or 'core'}/{doc.get('kind')}) is not in the "
                            f"namespaceResourceWhitelist of {project['metadata']['name']}",
                        )
                    )
            notes = annotations(app)
            for trigger in NOTIFICATION_TRIGGERS:
                if not any(
                    k.startswith(f"notifications.argoproj.io/subscribe.{trigger}.") for k in notes
                ):
                    out.append(
                        Violation(
                            where, oid, "argocd-notifications", f"no subscription for {trigger}"
                        )
                    )
            automated = (spec.get("syncPolicy") or {}).get("automated")
            if env == "prod":
                if automated:
                    out.append(
                        Violation(
                            where,
                            oid,
                            "argocd-sync",
                            "prod must be synced by hand (no automated sync)",
                        )
                    )
            elif not (automated and automated.get("prune") and automated.get("selfHeal")):
                out.append(
                    Violation(
                        where,
                        oid,
                        "argocd-sync",
                        f"{env} needs automated sync with prune and selfHeal",
                    )
                )
    for env in ENVIRONMENTS:
        if env not in env_apps:
            out.append(
                Violation(
                    "argocd/",
                    f"Application/gold-platform-{env}",
                    "argocd-path",
                    f"no Application for {env}",
                )
            )
    return out
