"""Rates: the current one (cached), history for charts, and publishing (operator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from aiohttp import web

from ..db import autocommit
from ..services import rates as rate_service
from ..state import CACHE, CURRENT_RATE, DB_POOL, SETTINGS
from ..store import rates
from .auth import require_operator
from .idempotency import outcome_response, run_idempotent
from .problems import Problem, validation_failed
from .representations import bucket_json
from .responses import json_response
from .validation import VALIDATED

INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}
MAX_BUCKETS = 2000


# How soon a client should ask again when the latest rate has expired: the
# feed publishes every few seconds when it runs.
STALE_RATE_RETRY_SECONDS = 5


async def current(request: web.Request) -> web.Response:
    """Only a rate that can still be quoted: once the latest one has expired
    (the feed stalled) the answer is 503, never an expired rate as current."""
    latest = await request.app[CURRENT_RATE].latest()
    if latest is None:
        raise Problem(404, "no-rate", "No Rate", "No rate has been published yet.")
    if latest.valid_until <= datetime.now(UTC):
        raise Problem(
            503,
            "rate-stale",
            "No Current Rate",
            f"The latest rate expired at {latest.valid_until.isoformat()} and no newer one"
            " has been published; retry shortly.",
            headers={"Retry-After": str(STALE_RATE_RETRY_SECONDS)},
        )
    return web.Response(body=latest.body, content_type="application/json")


async def history(request: web.Request) -> web.Response:
    query = request[VALIDATED].query
    interval = query["interval"]  # one of the document's, the keys of INTERVALS
    end = query["to"] or datetime.now(UTC)
    try:
        start = query["from"] or end - timedelta(days=1)
    except OverflowError:
        raise validation_failed([{"field": "to", "message": "out of range"}]) from None
    if start >= end:
        raise validation_failed([{"field": "from", "message": "must be before 'to'"}])
    if (end - start).total_seconds() / INTERVALS[interval] > MAX_BUCKETS:
        raise validation_failed(
            [
                {
                    "field": "interval",
                    "message": f"the range would give more than {MAX_BUCKETS} buckets",
                }
            ]
        )
    currency = request.app[SETTINGS].currency
    async with autocommit(request.app[DB_POOL]) as cur:
        rows = await rates.history(cur, currency, start, end, INTERVALS[interval])
    return json_response(
        {
            "currency": currency,
            "interval": interval,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "buckets": [bucket_json(row) for row in rows],
        }
    )


async def publish(request: web.Request) -> web.Response:
    require_operator(request)
    body = request[VALIDATED].body
    settings = request.app[SETTINGS]
    buy, sell = Decimal(body["buy_price"]), Decimal(body["sell_price"])

    async def work(cur):  # record applies the price rules (the feed goes through it too)
        return 201, await rate_service.record(
            cur,
            currency=settings.currency,
            buy_price=buy,
            sell_price=sell,
            tax_rate=Decimal(body.get("tax_rate", settings.buy_tax_rate)),
            valid_seconds=settings.rate_validity_seconds,
            source="operator-api",
        )

    outcome = await run_idempotent(request, None, body, work)
    if not outcome.replayed:  # a replayed rate may long have been superseded
        await rate_service.announce(request.app[CACHE], settings.currency, outcome.body)
        request.app[CURRENT_RATE].forget()
    return outcome_response(outcome)
