"""The production server: several gunicorn workers, one view of the metrics,
served on the metrics port only."""

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
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "HOST": "127.0.0.1",
            "PORT": str(free_port()),
            "METRICS_PORT": str(port),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        }
        done = subprocess.run(
            [GOLD_PLATFORM, "serve"], env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"gold-platform: cannot serve metrics on 127.0.0.1:{port} (METRICS_HOST, METRICS_PORT): "
        "Address already in use"
    )
