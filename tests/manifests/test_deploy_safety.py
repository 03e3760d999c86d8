"""Rollouts, drains and the cache fail safe (rendered overlays).

The bounds are derived from the manifests themselves (probe timings, the
container's memory limit, deploy-k8s.sh's wait), so a change to one side
that breaks the relation fails here.
"""

from __future__ import annotations

import re

import pytest

from tests.manifests.conftest import ROOT, policy

# Redis: 1k = 1000, 1kb = 1024 (redis.conf); Kubernetes: Ki/Mi/Gi and k/M/G.
REDIS_UNITS = {"": 1, "k": 10**3, "kb": 2**10, "m": 10**6, "mb": 2**20, "g": 10**9, "gb": 2**30}
QUANTITY_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
MAXMEMORY_SHARE = 0.75  # of the container's memory limit


def redis_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([a-z]*)", value.lower()).groups()
    return int(number) * REDIS_UNITS[unit]


def quantity_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kMG]i?)?", str(value)).groups()
    return int(number) * QUANTITY_UNITS[unit or ""]


def redis_option(args: list[str], name: str) -> str:
    return args[args.index(f"--{name}") + 1]


def deploy_script_wait() -> int:
    text = (ROOT / "scripts" / "deploy-k8s.sh").read_text()
    return int(re.search(r"WAIT_SECONDS=\$\{DEPLOY_WAIT_SECONDS:-(\d+)\}", text).group(1))


def test_units_are_read_as_redis_and_kubernetes_mean_them():
    assert redis_bytes("192mb") == 192 * 2**20 and redis_bytes("200m") == 200 * 10**6
    assert quantity_bytes("256Mi") == 256 * 2**20 and quantity_bytes("1G") == 10**9


@pytest.mark.parametrize("env", policy.ENVIRONMENTS)
def test_rollouts_wait_for_pods_that_stay_ready_and_fail_by_a_deadline(rendered, env):
    deployment = policy.backend(rendered[env])
    spec = deployment["spec"]
    api = policy.pod_spec(deployment)["containers"][0]
    readiness, startup = api["readinessProbe"], api["startupProbe"]
    # Ready through at least one full readiness failure window before it counts.
    assert spec["minReadySeconds"] >= readiness["periodSeconds"] * readiness["failureThreshold"]
    # Room for one pod to start and settle, yet reported before the deploy script gives up.
    one_pod = startup["periodSeconds"] * startup["failureThreshold"] + spec["minReadySeconds"]
    assert 3 * one_pod <= spec["progressDeadlineSeconds"] < deploy_script_wait()


@pytest.mark.parametrize("env", policy.ENVIRONMENTS)
def test_unready_pods_never_block_a_drain(rendered, env):
    (pdb,) = policy.of_kind(rendered[env], "PodDisruptionBudget")
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


@pytest.mark.parametrize("env", policy.ENVIRONMENTS)
def test_redis_evicts_well_inside_its_memory_limit(rendered, env):
    (redis,) = [
        d
        for d in policy.of_kind(rendered[env], "Deployment")
        if policy.pod_labels(d).get("app.kubernetes.io/component") == "cache"
    ]
    (container,) = policy.pod_spec(redis)["containers"]
    args = [str(a) for a in container["args"]]
    limit = quantity_bytes(container["resources"]["limits"]["memory"])
    maxmemory = redis_bytes(redis_option(args, "maxmemory"))
    assert maxmemory <= MAXMEMORY_SHARE * limit, (
        f"maxmemory {maxmemory} B is {maxmemory / limit:.0%} of the {limit} B limit"
    )
    assert redis_option(args, "maxmemory-policy") == "allkeys-lru"
