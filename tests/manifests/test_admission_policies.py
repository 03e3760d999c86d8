"""The ValidatingAdmissionPolicies of kustomize/cluster/admission-policies,
their CEL evaluated offline (common-expression-language, a CEL
implementation independent of the API server's): what the overlays render
is admitted, and each rule refuses what it is there to refuse. The API
server's own verdict on these objects is the e2e test's (docs/kubernetes.md)."""

from __future__ import annotations

import copy

import cel
import pytest

from tests.manifests.conftest import policy

HARDENING = "gold-platform-pod-hardening"
DIGEST = "gold-platform-image-digest"
SHA = "sha256:" + "0123456789abcdef" * 4
# The resource each kind is admitted as (matchConstraints name resources).
RESOURCES = {
    "Pod": "pods",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "ReplicaSet": "replicasets",
    "Job": "jobs",
    "CronJob": "cronjobs",
}
# A pod that breaks every rule of the hardening policy (the e2e test's
# violating manifest, docs/kubernetes.md).
VIOLATING_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "rogue", "namespace": "gold-platform-dev"},
    "spec": {
        "securityContext": {"runAsUser": 0},
        "containers": [
            {
                "name": "main",
                "image": "docker.io/library/busybox:latest",
                "command": ["sleep", "3600"],
                "securityContext": {"allowPrivilegeEscalation": True},
            }
        ],
    },
}

# What the e2e test should send where Pod Security `restricted` is enforced
# (Argo CD labels the namespaces so): PodSecurity admission runs before the
# admission policies and would refuse VIOLATING_POD itself. This pod passes
# `restricted` and breaks three rules that only the policy has.
RESTRICTED_BUT_UNHARDENED_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "unhardened", "namespace": "gold-platform-dev"},
    "spec": {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "main",
                "image": "localhost/gold-platform:latest",
                "command": ["sleep", "3600"],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    },
}


def refusals(admission_policy: dict, obj: dict) -> list[str]:
    """The messages of the validations `obj` fails, as the API server would
    evaluate them on CREATE (variables first, in order)."""
    spec = admission_policy["spec"]
    assert any(
        RESOURCES[obj["kind"]] in rule["resources"] and "CREATE" in rule["operations"]
        for rule in spec["matchConstraints"]["resourceRules"]
    ), f"{admission_policy['metadata']['name']} does not match {obj['kind']}"
    variables: dict = {}
    for variable in spec.get("variables") or []:
        context = {"object": obj, "variables": variables}
        variables[variable["name"]] = cel.evaluate(variable["expression"], context)
    context = {"object": obj, "variables": variables}
    return [
        v["message"]
        for v in spec["validations"]
        if cel.evaluate(v["expression"], context) is not True
    ]


@pytest.fixture(scope="module")
def admission(cluster_sets) -> dict[str, dict]:
    docs = cluster_sets["admission-policies"]
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"}


@pytest.fixture(scope="module")
def bindings(cluster_sets) -> dict[str, dict]:
    docs = cluster_sets["admission-policies"]
    return {
        d["spec"]["policyName"]: d["spec"]
        for d in docs
        if d["kind"] == "ValidatingAdmissionPolicyBinding"
    }


def as_pod(workload: dict) -> dict:
    """The pod a workload's controller creates from its template."""
    template = policy.pod_template(workload)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            **template.get("metadata", {}),
            "namespace": workload["metadata"]["namespace"],
        },
        "spec": template["spec"],
    }


def backend_deployment(rendered, env: str = "prod") -> dict:
    return copy.deepcopy(policy.backend(rendered[env]))


@pytest.mark.parametrize("env", policy.ENVIRONMENTS)
def test_every_rendered_workload_and_its_pods_are_admitted(admission, rendered, env):
    workloads = policy.of_kind(rendered[env], *policy.WORKLOAD_KINDS)
    assert {w["kind"] for w in workloads} == {"Deployment", "StatefulSet", "Job", "CronJob"}
    for obj in workloads + [as_pod(w) for w in workloads]:
        assert refusals(admission[HARDENING], obj) == [], policy.obj_id(obj)


def test_the_violating_pod_is_refused_by_every_rule(admission):
    assert refusals(admission[HARDENING], VIOLATING_POD) == [
        v["message"] for v in admission[HARDENING]["spec"]["validations"]
    ]


def test_a_pod_that_pod_security_admits_is_still_refused(admission):
    assert refusals(admission[HARDENING], RESTRICTED_BUT_UNHARDENED_POD) == [
        "every container must have securityContext.readOnlyRootFilesystem true",
        "every container must have resources.limits for cpu and memory",
        "every image must be pinned by a tag other than latest, or by a sha256 digest",
    ]


def set_path(obj: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for key in parents:
        obj = obj[int(key)] if key.isdigit() else obj[key]
    if value is None:
        del obj[last]
    else:
        obj[last] = value


CONTAINER = "spec.template.spec.containers.0"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("spec.template.spec.securityContext.runAsNonRoot", None, "must run as non-root"),
        (f"{CONTAINER}.securityContext.runAsNonRoot", False, "must run as non-root"),
        (f"{CONTAINER}.securityContext.runAsUser", 0, "may run as uid 0"),
        (f"{CONTAINER}.securityContext.readOnlyRootFilesystem", False, "readOnlyRootFilesystem"),
        (f"{CONTAINER}.securityContext.allowPrivilegeEscalation", None, "allowPrivilegeEscalation"),
        (f"{CONTAINER}.resources.limits.memory", None, "resources.limits"),
        (f"{CONTAINER}.resources.limits", None, "resources.limits"),
        (
            f"{CONTAINER}.image",
            "ghcr.io/gold-platform/gold-platform:latest",
            "tag other than latest",
        ),
        (f"{CONTAINER}.image", "gold-platform", "tag other than latest"),
    ],
)
def test_each_rule_refuses_its_fault_in_a_deployment(admission, rendered, path, value, message):
    deployment = backend_deployment(rendered)
    set_path(deployment, path, value)
    (refused,) = refusals(admission[HARDENING], deployment)
    assert message in refused
    assert refusals(admission[HARDENING], as_pod(deployment)) == [refused]


def test_init_containers_and_cronjobs_are_checked(admission, rendered):
    deployment = backend_deployment(rendered)
    spec = deployment["spec"]["template"]["spec"]
    # Non-root comes from the pod's securityContext; the rest is missing.
    spec["initContainers"] = [{"name": "init", "image": "busybox:1.37"}]
    missing = [
        "every container must have securityContext.readOnlyRootFilesystem true",
        "every container must have securityContext.allowPrivilegeEscalation false",
        "every container must have resources.limits for cpu and memory",
    ]
    assert refusals(admission[HARDENING], deployment) == missing
    cronjob = {
        "kind": "CronJob",
        "metadata": {"namespace": "gold-platform-prod"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}},
    }
    assert refusals(admission[HARDENING], cronjob) == missing


@pytest.mark.parametrize(
    ("image", "pinned", "by_digest"),
    [
        ("ghcr.io/gold-platform/gold-platform:0.1.0", True, False),
        (f"ghcr.io/gold-platform/gold-platform@{SHA}", True, True),
        (f"ghcr.io/gold-platform/gold-platform:0.1.0@{SHA}", True, True),
        ("localhost:5000/gold-platform:e2e-1", True, False),
        ("localhost:5000/gold-platform", False, False),  # a port is not a tag
        ("gold-platform", False, False),
        ("redis:latest", False, False),
        ("ghcr.io/gold-platform/gold-platform@sha256:abc", False, False),  # not a digest
    ],
)
def test_image_references(admission, rendered, image, pinned, by_digest):
    deployment = backend_deployment(rendered)
    deployment["spec"]["template"]["spec"]["containers"][0]["image"] = image
    assert (refusals(admission[HARDENING], deployment) == []) is pinned
    assert (refusals(admission[DIGEST], deployment) == []) is by_digest


def test_hardening_is_enforced_in_the_three_namespaces(bindings):
    binding = bindings[HARDENING]
    assert binding["validationActions"] == ["Deny"]
    assert policy.selected_namespaces({"spec": binding}) == policy.GOLD_NAMESPACES


def test_digests_are_required_in_staging_and_prod(admission, bindings, rendered):
    binding = bindings[DIGEST]
    assert binding["validationActions"] == ["Deny", "Audit"]
    assert policy.selected_namespaces({"spec": binding}) == [
        "gold-platform-staging",
        "gold-platform-prod",
    ]
    # Only the project's own workloads: not the pods cert-manager starts there.
    assert binding["matchResources"]["objectSelector"] == {
        "matchLabels": {"app.kubernetes.io/part-of": "gold-platform"}
    }
    for env in policy.PROTECTED_ENVIRONMENTS:
        for workload in policy.of_kind(rendered[env], *policy.WORKLOAD_KINDS):
            assert workload["metadata"]["labels"]["app.kubernetes.io/part-of"] == "gold-platform"
            # No release has been promoted by digest yet: until one is, the
            # tags in git are refused there (tests/e2e/test_11_signed_images).
            assert refusals(admission[DIGEST], workload) == [
                "in staging and prod every image must be pinned by sha256 digest"
            ]
