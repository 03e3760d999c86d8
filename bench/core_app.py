"""W core: the service's trade path without its HTTP layer.

A bare aiohttp app, served by gunicorn with the same worker class and count as
the service, answering the two requests of a trade (verify a buy, confirm it)
through the service's own code below the HTTP layer: the Idempotency-Key rule
(services/idempotency.py), the use cases and domain rules (services/trading.py),
the SQL and the pool (store/, db.py) and the JSON representation. What it leaves
out is the HTTP layer: no OpenAPI validation, no key authentication (the
partner is looked up from the bearer token in BENCH_PARTNER_KEYS_FILE, a JSON
object run.py writes), no rate limit, no access log, no metrics, no problem
documents (an error is a bare 500).

Measured against the same pgbench ceiling as the service, it splits W's gap
into what the HTTP layer costs and what the trade path itself costs.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiopg
from aiohttp import web

from gold_platform import db
from gold_platform.http.representations import transaction_json
from gold_platform.services import idempotency, trading
from gold_platform.settings import Settings

PARTNER_OF_TOKEN: dict[str, str] = json.loads(
    Path(os.environ["BENCH_PARTNER_KEYS_FILE"]).read_text()
)
SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", aiopg.Pool)


def _partner(request: web.Request) -> str:
    return PARTNER_OF_TOKEN[request.headers["Authorization"].removeprefix("Bearer ")]


def _answer(outcome: idempotency.Outcome) -> web.Response:
    return web.Response(body=outcome.body, status=outcome.status, content_type="application/json")


async def verify_buy(request: web.Request) -> web.Response:
    partner_id = _partner(request)
    body = json.loads(await request.read(), parse_float=Decimal)
    settings = request.app[SETTINGS]
    user_id, rate_id, amount = body["user_id"], body["rate_id"], Decimal(body["amount"])

    async def work(cur, found):
        row = await trading.verify(
            cur, settings, partner_id, "buy", user_id, rate_id, amount, None, found
        )
        return 201, transaction_json(row)

    outcome = await idempotency.run_once_reading(
        request.app[POOL],
        partner_id,
        request.headers["Idempotency-Key"],
        idempotency.fingerprint(request.method, request.path, body),
        trading.verify_reads(partner_id, user_id, rate_id),
        work,
    )
    return _answer(outcome)


async def confirm(request: web.Request) -> web.Response:
    partner_id = _partner(request)
    transaction_id = request.match_info["transaction_id"]
    settings = request.app[SETTINGS]

    async def work(cur, found):
        row, _ = await trading.confirm(cur, settings, partner_id, transaction_id, found)
        return 200, transaction_json(row)

    outcome = await idempotency.run_once_reading(
        request.app[POOL],
        partner_id,
        request.headers["Idempotency-Key"],
        idempotency.fingerprint(request.method, request.path, None),
        trading.confirm_reads(partner_id, transaction_id),
        work,
    )
    return _answer(outcome)


async def _ready(request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ready"}', content_type="application/json")


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = await db.create_pool(settings)
    await db.warm_up(pool, settings.database_pool_size)
    app[POOL] = pool
    yield
    pool.close()
    await pool.wait_closed()


def create_app() -> web.Application:
    app = web.Application()
    app[SETTINGS] = Settings.from_env()
    app.cleanup_ctx.append(_database)
    app.router.add_post("/v1/transactions/buy", verify_buy)
    app.router.add_post("/v1/transactions/{transaction_id}/confirm", confirm)
    app.router.add_get("/health/ready", _ready)
    return app


app = create_app()
