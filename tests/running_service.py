"""Run the real production server (`gold-platform serve`, gunicorn) for a test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gold_devtools.devstack import free_ports

GOLD_PLATFORM = str(Path(sys.executable).with_name("gold-platform"))


@dataclass
class Service:
    process: subprocess.Popen
    base_url: str
    metrics_url: str  # the metrics listener's /metrics (its own port)
    log_path: Path

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()


def wait_until_ready(base_url: str, timeout: float = 30.0, path: str = "/health/ready") -> float:
    """Seconds until `path` answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(base_url + path, timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{base_url}{path} not ready after {timeout}s")


@contextmanager
def running_service(env: dict[str, str], tmp_path: Path, workers: int = 2) -> Iterator[Service]:
    port, metrics_port = free_ports(2)
    log_path = tmp_path / f"service-{port}.log"
    full_env = {
        **os.environ,
        **env,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "METRICS_PORT": str(metrics_port),
        "METRICS_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": str(workers),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"metrics-{port}"),
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [GOLD_PLATFORM, "serve"], env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    service = Service(
        process,
        f"http://127.0.0.1:{port}",
        f"http://127.0.0.1:{metrics_port}/metrics",
        log_path,
    )
    try:
        wait_until_ready(service.base_url, path="/health")
        yield service
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
