"""Every route of the service, in one place."""

from __future__ import annotations

from aiohttp import web

from .http import health


def add_routes(app: web.Application) -> None:
    app.router.add_get("/health", health.live, name="health")
    app.router.add_get("/health/ready", health.ready, name="ready")
    app.router.add_get("/metrics", health.metrics, name="metrics")
