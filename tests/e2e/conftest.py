"""End-to-end scenarios against a real cluster: the one of $KUBECONFIG.

`make e2e` brings up the local cluster (scripts/cluster/up.sh), runs these
in file order (each builds on the deployment the one before left), and takes
the cluster down; the kind job in .github/workflows runs the same files.
Every scenario records its figures; they are printed at the end and written
to .state/e2e-figures.txt.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field

import pytest

from tests.e2e.kube import ROOT, Api, backend_secret_name, port_forward, secret_value

FIGURES: list[tuple[str, str]] = []
FIGURES_FILE = ROOT / ".state" / "e2e-figures.txt"


def figure(name: str, value: str) -> None:
    FIGURES.append((name, value))
    print(f"\n[e2e] {name}: {value}", flush=True)


def pytest_configure(config):
    if not os.environ.get("KUBECONFIG"):
        raise pytest.UsageError("tests/e2e needs KUBECONFIG (make e2e sets it)")
    if shutil.which("kubectl") is None:
        raise pytest.UsageError("tests/e2e needs kubectl on PATH")


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("e2e figures")
    width = max(len(name) for name, _ in FIGURES)
    lines = [f"{name:<{width}}  {value}" for name, value in FIGURES]
    for line in lines:
        terminalreporter.write_line(line)
    FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    FIGURES_FILE.write_text("\n".join(lines) + "\n")


@dataclass
class Deployment:
    """What scenario 1 set up, for the scenarios after it."""

    operator_key: str = ""
    partner_key: str = ""
    user_id: str = ""
    load_user_id: str = ""
    notes: dict = field(default_factory=dict)


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    return Deployment()


def fill_deployment(deployment: Deployment) -> Deployment:
    """A partner, a customer and a KYC'd load customer on the running dev
    deployment, unless `deployment` has them already."""
    if not deployment.partner_key:
        deployment.operator_key = secret_value(backend_secret_name(), "OPERATOR_API_KEY")
        with port_forward("svc/gold-platform") as base:
            api = Api(base, deployment.operator_key)
            deployment.partner_key = api.partner(f"e2e-partner-{uuid.uuid4().hex[:8]}")
            deployment.user_id = api.user(deployment.partner_key, "e2e-customer-1")
    if not deployment.load_user_id:
        with port_forward("svc/gold-platform") as base:
            api = Api(base, deployment.operator_key)
            user = api.user(deployment.partner_key, "e2e-load-customer")
            api.call(
                "POST", f"/v1/users/{user}/kyc", deployment.partner_key, json={"status": "verified"}
            )
            deployment.load_user_id = user
    return deployment


@pytest.fixture
def deployed(deployment) -> Deployment:
    """The dev deployment with a partner, for scenarios after the first; also
    when a scenario runs on its own against a cluster that is already up."""
    return fill_deployment(deployment)
