"""`gold-platform dev` (what `make run` starts): loopback only, says where it
listens, and leaves the one-time keys where a person can find them."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from gold_devtools.devstack import free_ports

pytestmark = pytest.mark.slow

GOLD_PLATFORM = Path(sys.executable).with_name("gold-platform")


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets in LISTEN state on `port` (from /proc)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def dev_server(database_url: str, redis_url: str, env_file: Path, *extra: str):
    """`gold-platform dev` on free ports; yields (port, metrics port, its output so far)."""
    port, metrics_port = free_ports(2)
    env = {
        k: v for k, v in os.environ.items() if k not in ("HOST", "METRICS_HOST", "OPERATOR_API_KEY")
    } | {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
    }
    server = subprocess.Popen(
        [
            str(GOLD_PLATFORM),
            "dev",
            "--partner",
            "demo-partner",
            "--env-file",
            str(env_file),
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 90
        want = f"listening on http://127.0.0.1:{port}"
        while time.monotonic() < deadline and server.poll() is None:
            line = server.stdout.readline()
            output.append(line)
            if line.strip() == want:
                break
        assert output and output[-1].strip() == want, "".join(output)
        yield port, metrics_port, "".join(output)
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def test_dev_server_binds_loopback_prints_its_address_and_writes_the_keys(
    database_url, redis_url, tmp_path
):
    env_file = tmp_path / "run" / "dev.env"
    with dev_server(database_url, redis_url, env_file) as (port, metrics_port, printed):
        # Bound to 127.0.0.1 only (0100007F in /proc's little-endian hex), the
        # metrics listener too, and it says where both are.
        assert listening_addresses(port) == {"0100007F"}, listening_addresses(port)
        assert listening_addresses(metrics_port) == {"0100007F"}
        assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in printed
        metrics = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert "# TYPE http_requests_total counter" in metrics.text

        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        exports = dict(
            line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines()
        )
        assert set(exports) == {"GOLD_OPERATOR_KEY", "GOLD_PARTNER_KEY", "GOLD_DATABASE_URL"}
        assert exports["GOLD_DATABASE_URL"] == database_url
        assert exports["GOLD_OPERATOR_KEY"] in printed and exports["GOLD_PARTNER_KEY"] in printed
        assert f"written to {env_file}" in printed

        api = f"http://127.0.0.1:{port}"
        for path, key in (
            ("/v1/admin/reconciliation", exports["GOLD_OPERATOR_KEY"]),
            ("/v1/rates/current", exports["GOLD_PARTNER_KEY"]),
        ):
            answer = requests.get(
                api + path, headers={"Authorization": f"Bearer {key}"}, timeout=10
            )
            assert answer.status_code != 401, (path, answer.text)
        wrong = requests.get(
            api + "/v1/rates/current", headers={"Authorization": "Bearer gp_wrong"}, timeout=10
        )
        assert wrong.status_code == 401


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Worked example (curl)") :]
    return section.split("```sh\n", 1)[1].split("```", 1)[0]


@pytest.mark.skipif(shutil.which("jq") is None, reason="the worked example uses jq")
def test_the_readme_worked_example_runs_twice_in_a_fresh_shell(database_url, redis_url, tmp_path):
    env_file = tmp_path / ".state" / "run" / "dev.env"
    with dev_server(database_url, redis_url, env_file, "--feed") as (port, _, _):
        script = readme_example().replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        assert ". .state/run/dev.env" in script
        assert str(port) in script, "the example no longer talks to 127.0.0.1:8080"
        for attempt in (1, 2):
            run = subprocess.run(
                ["bash", "-e", "-o", "pipefail", "-c", script],
                cwd=tmp_path,
                env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert run.returncode == 0, (attempt, run.stdout, run.stderr)
            *_, confirmed, portfolio = answers(run.stdout)
            assert confirmed["status"] == "confirmed", confirmed
            assert Decimal(portfolio["invested_amount"]) == Decimal("1000.00"), portfolio


def answers(output: str) -> list[dict]:
    """The JSON documents curl printed one after the other."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(output.rstrip()):
        document, at = decoder.raw_decode(output, at)
        found.append(document)
        while at < len(output) and output[at].isspace():
            at += 1
    return found
