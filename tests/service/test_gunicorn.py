"""The production server: several gunicorn workers, one view of the metrics,
served on the metrics port only."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gold_devtools.devstack import free_port
from tests.running_service import GOLD_PLATFORM, running_service, wait_until_ready

pytestmark = pytest.mark.slow


def get(url: str) -> tuple[int, str]:
    # A new connection each time, so the kernel spreads requests over workers.
    request = urllib.request.Request(url, headers={"Connection": "close"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read().decode()


def get_refused(url: str) -> urllib.error.HTTPError:
    with pytest.raises(urllib.error.HTTPError) as refused:
        get(url)
    return refused.value


def health_count(metrics_text: str) -> float:
    match = re.search(
        r'^http_requests_total\{method="GET",route="/health",status="200"\} (\S+)$',
        metrics_text,
        re.MULTILINE,
    )
    assert match, "no /health counter in /metrics"
    return float(match.group(1))


def serve_until_it_stops(
    database_url: str, tmp_path: Path, port: int, metrics_port: int
) -> tuple[int, str]:
    """`gold-platform serve` on these ports, expected to stop by itself: its exit
    code and the last line it wrote to stderr."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    done = subprocess.run(
        [GOLD_PLATFORM, "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stderr.strip().splitlines()[-1]


def sockets_on_port(port: int, state: str) -> set[int]:
    """Inodes of the server-side TCP sockets on local `port` in `state` (hex, as /proc shows it)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(int(fields[9]))
    return inodes


def socket_owners(pids: list[int]) -> dict[int, int]:
    """Socket inode -> the pid (of `pids`) holding it open."""
    owners = {}
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd) if fd.is_symlink() else ""
            if target.startswith("socket:["):
                owners[int(target[8:-1])] = pid
    return owners


def test_each_worker_listens_on_its_own_socket_and_keep_alive_clients_spread(
    database_url, tmp_path
):
    """With one shared listening socket, the first worker to wake took every waiting
    connection (32 of 32 in a benchmark run); each worker has its own now."""
    env = {"DATABASE_URL": database_url, "DATABASE_POOL_SIZE": "2"}
    with running_service(env, tmp_path, workers=2) as service:
        master = service.process.pid
        port = int(service.base_url.rsplit(":", 1)[1])
        children = Path(f"/proc/{master}/task/{master}/children")
        deadline = time.monotonic() + 30  # ready means one worker is up; wait for both
        while True:
            workers = [int(pid) for pid in children.read_text().split()]
            listening = socket_owners([master, *workers])
            owners = [listening.get(inode) for inode in sockets_on_port(port, "0A")]
            if len(owners) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(workers) == 2
        assert sorted(owners) == sorted(workers), f"listening sockets held by {owners}"

        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=5) for _ in range(64)]
        try:
            for client in clients:  # keep-alive: each stays on the worker that accepted it
                client.request("GET", "/health")
                assert client.getresponse().status == 200
            held = socket_owners(workers)
            per_worker = {pid: 0 for pid in workers}
            for inode in sockets_on_port(port, "01"):
                if inode in held:
                    per_worker[held[inode]] += 1
        finally:
            for client in clients:
                client.close()
        print(f"\n64 keep-alive connections per worker: {sorted(per_worker.values())}")
        assert sum(per_worker.values()) == 64
        # The kernel spreads them by a hash of the address: about half each, and
        # fewer than 8 of 64 on one worker has odds below 1 in 10^9.
        assert min(per_worker.values()) >= 8


def test_metrics_cover_every_worker_and_shutdown_is_clean(database_url, redis_url, tmp_path):
    env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "DATABASE_POOL_SIZE": "2"}
    with running_service(env, tmp_path, workers=2) as service:
        wait_until_ready(service.base_url)
        sent = 200
        for _ in range(sent - 1):  # running_service already made one /health call
            assert get(service.url("/health"))[0] == 200

        counts = {health_count(get(service.metrics_url)[1]) for _ in range(10)}
        print(f"\n/health requests sent={sent} counted by /metrics={counts}")
        assert counts == {float(sent)}

        metrics_dir = Path(tmp_path) / f"metrics-{service.base_url.rsplit(':', 1)[1]}"
        writers = {p.stem.split("_")[-1] for p in metrics_dir.glob("counter_*.db")}
        # The master (which preloads the app) may hold an all-zero file too.
        workers = writers - {str(service.process.pid)}
        assert len(workers) == 2, f"expected samples from 2 workers, got files {writers}"

        started = time.monotonic()
        service.process.send_signal(signal.SIGTERM)
        code = service.process.wait(timeout=25)
        print(f"SIGTERM to exit: {time.monotonic() - started:.2f}s")
        assert code == 0
        assert any("Shutting down: Master" in line for line in service.log_lines())
        assert all(line.startswith("{") for line in service.log_lines() if line.strip())


def test_a_busy_api_port_stops_the_server_with_one_line(database_url, tmp_path):
    """Workers bind with SO_REUSEPORT, which would share a port held by another such server."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, last_line = serve_until_it_stops(database_url, tmp_path, port, free_port())
    assert code == 1
    assert last_line == (
        f"gold-platform: cannot serve the API on 127.0.0.1:{port} (HOST, PORT): "
        "Address already in use"
    )


def test_metrics_are_not_served_on_the_api_port(database_url, tmp_path):
    env = {"DATABASE_URL": database_url, "DATABASE_POOL_SIZE": "2"}
    with running_service(env, tmp_path, workers=2) as service:
        refused = get_refused(service.url("/metrics"))
        assert refused.code == 404
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert json.load(refused)["status"] == 404
        # The metrics listener serves /metrics and nothing else.
        assert get_refused(service.metrics_url.replace("/metrics", "/health")).code == 404
        assert "# TYPE http_requests_total counter" in get(service.metrics_url)[1]


def test_a_busy_metrics_port_stops_the_server_with_one_line(database_url, tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, last_line = serve_until_it_stops(database_url, tmp_path, free_port(), port)
    assert code == 1
    assert last_line == (
        f"gold-platform: cannot serve metrics on 127.0.0.1:{port} (METRICS_HOST, METRICS_PORT): "
        "Address already in use"
    )
