"""R ceiling: the least an aiohttp worker can do to answer the rate request.

A bare aiohttp app, served by gunicorn with the same worker class and count as
the service, answering GET /v1/rates/current with a fixed JSON body whose size
matches the service's rate response (BENCH_CEILING_BODY_FILE; run.py writes it
from a real response). No auth, no middleware, no cache, no logging.
"""

from __future__ import annotations

import os
from pathlib import Path

from aiohttp import web

_BODY = Path(os.environ["BENCH_CEILING_BODY_FILE"]).read_bytes()


async def _rate(request: web.Request) -> web.Response:
    return web.Response(body=_BODY, content_type="application/json")


async def _ready(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ready"}', content_type="application/json")


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/v1/rates/current", _rate)
    app.router.add_get("/health/ready", _ready)
    return app


app = create_app()
