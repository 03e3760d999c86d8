"""Prometheus metrics, served on their own port (METRICS_PORT), never on the API's.

Under gunicorn every worker is a separate process, so the client runs in
multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set (`gold-platform serve`
sets it): each worker writes its samples to files in that folder and /metrics
aggregates all of them, whichever worker answers. The master binds the
metrics socket once, like the API's; every worker accepts on it.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter("http_requests_total", "HTTP requests handled.", ["method", "route", "status"])
REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency.",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
IN_FLIGHT = Gauge(
    "http_requests_in_flight", "HTTP requests being handled.", multiprocess_mode="livesum"
)
DB_POOL_CONNECTIONS = Gauge(
    "db_pool_connections",
    "PostgreSQL pool connections by state (size, used, free, max).",
    ["state"],
    multiprocess_mode="livesum",
)
CACHE_OPERATIONS = Counter("cache_operations_total", "Redis cache lookups by result.", ["result"])
RATE_LIMITED = Counter("rate_limited_requests_total", "Requests refused by the rate limiter.")
TRADES = Counter(
    "trades_total",
    "Trades by side and event (verified, confirmed, cancelled, expired).",
    ["side", "event"],
)
GRAMS_TRADED = Counter("gold_grams_traded_total", "Grams of gold settled, by side.", ["side"])


@functools.lru_cache(maxsize=4096)
def request_metrics(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    """The request counter and latency children of one label set, looked up once
    per process (`labels()` validates and locks on every call)."""
    labels = (method, route, str(status))
    return REQUESTS.labels(*labels), REQUEST_LATENCY.labels(*labels)


def render_latest() -> tuple[bytes, str]:
    """Samples of this process, or of every worker in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


async def _metrics(request: web.Request) -> web.Response:
    body, content_type = render_latest()
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def metrics_app() -> web.Application:
    """GET /metrics and nothing else (no middlewares: scrapes are not API traffic)."""
    app = web.Application()
    app.router.add_get("/metrics", _metrics)
    return app


def bind_metrics_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound before gunicorn forks so workers share it."""
    return socket.create_server((host, port), backlog=128)


def serve_metrics(sock: socket.socket) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup_ctx that serves metrics_app() on `sock` while the app runs."""

    async def serving(_app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(metrics_app(), handle_signals=False, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        yield
        await runner.cleanup()

    return serving
