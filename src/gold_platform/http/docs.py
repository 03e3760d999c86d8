"""The OpenAPI document and a Swagger UI page, served from the installed package (no CDN)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from aiohttp import web

from .openapi import document

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gold Platform API</title>
<link rel="stylesheet" href="/v1/docs/static/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/v1/docs/static/swagger-ui-bundle.js"></script>
<script src="/v1/docs/init.js"></script></body></html>
"""
_INIT = "SwaggerUIBundle({url: '/v1/openapi.json', dom_id: '#ui'});\n"


def swagger_ui_dir() -> Path | None:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0]) / "static"


def add_routes(app: web.Application) -> None:
    spec_body = json.dumps(document()).encode()

    async def openapi(request: web.Request) -> web.Response:
        return web.Response(body=spec_body, content_type="application/json")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=_PAGE, content_type="text/html")

    async def init(request: web.Request) -> web.Response:
        return web.Response(text=_INIT, content_type="application/javascript")

    app.router.add_get("/v1/openapi.json", openapi, name="openapi")
    app.router.add_get("/v1/docs", page, name="docs")
    app.router.add_get("/v1/docs/init.js", init, name="docs-init")
    static = swagger_ui_dir()
    if static is not None:
        app.router.add_static("/v1/docs/static", static, name="docs-static")
