"""`gold-platform dev` (what `make run` starts): loopback only, says where it
listens, and leaves the one-time keys where a person can find them."""

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow

GOLD_PLATFORM = Path(sys.executable).with_name("gold-platform")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def test_dev_server_binds_loopback_prints_its_address_and_writes_the_keys(
    database_url, redis_url, tmp_path
):
    port = free_port()
    keys_file = tmp_path / "run" / "keys.env"
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "OPERATOR_API_KEY")} | {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PORT": str(port),
    }
    server = subprocess.Popen(
        [str(GOLD_PLATFORM), "dev", "--partner", "dev-server-test", "--keys-file", str(keys_file)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = []
    try:
        deadline = time.monotonic() + 90
        want = f"listening on http://127.0.0.1:{port}"
        while time.monotonic() < deadline and server.poll() is None:
            line = server.stdout.readline()
            output.append(line)
            if line.strip() == want:
                break
        assert output and output[-1].strip() == want, "".join(output)

        # Bound to 127.0.0.1 only (0100007F in /proc's little-endian hex).
        assert listening_addresses(port) == {"0100007F"}, listening_addresses(port)

        assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
        keys = dict(
            line.removeprefix("export ").split("=", 1)
            for line in keys_file.read_text().splitlines()
        )
        assert set(keys) == {"GOLD_OPERATOR_KEY", "GOLD_PARTNER_KEY"}
        printed = "".join(output)
        assert keys["GOLD_OPERATOR_KEY"] in printed and keys["GOLD_PARTNER_KEY"] in printed
        assert f"keys written to {keys_file}" in printed

        api = f"http://127.0.0.1:{port}"
        for path, key in (
            ("/v1/admin/reconciliation", keys["GOLD_OPERATOR_KEY"]),
            ("/v1/rates/current", keys["GOLD_PARTNER_KEY"]),
        ):
            answer = requests.get(
                api + path, headers={"Authorization": f"Bearer {key}"}, timeout=10
            )
            assert answer.status_code != 401, (path, answer.text)
        wrong = requests.get(
            api + "/v1/rates/current", headers={"Authorization": "Bearer gp_wrong"}, timeout=10
        )
        assert wrong.status_code == 401
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
