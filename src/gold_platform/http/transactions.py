"""Trades: verify (buy/sell) → confirm or cancel; and reading one."""

from __future__ import annotations

from aiohttp import web

from ..db import autocommit
from ..observability.metrics import GRAMS_TRADED, TRADES
from ..services import trading
from ..state import DB_POOL, SETTINGS
from ..store import transactions
from .auth import require_partner
from .bodies import positive
from .idempotency import outcome_response, run_idempotent_reading
from .problems import not_found
from .representations import transaction_json
from .responses import json_response
from .validation import VALIDATED


def _verify(side: str):
    async def handler(request: web.Request) -> web.Response:
        partner_id = require_partner(request)
        body = request[VALIDATED].body
        amount, grams = positive(body, "amount"), positive(body, "grams")
        settings = request.app[SETTINGS]
        user_id, rate_id = body["user_id"].lower(), body["rate_id"].lower()

        async def work(cur, found):
            row = await trading.verify(
                cur, settings, partner_id, side, user_id, rate_id, amount, grams, found
            )
            return 201, transaction_json(row)

        outcome = await run_idempotent_reading(
            request, partner_id, body, trading.verify_reads(partner_id, user_id, rate_id), work
        )
        if not outcome.replayed:
            TRADES.labels(side, "verified").inc()
        return outcome_response(outcome)

    handler.__name__ = f"verify_{side}"
    return handler


verify_buy = _verify("buy")
verify_sell = _verify("sell")


async def confirm(request: web.Request) -> web.Response:
    partner_id = require_partner(request)
    transaction_id = request[VALIDATED].path["transaction_id"].lower()
    settings = request.app[SETTINGS]
    settled: dict = {}

    async def work(cur, found):
        row, settled_now = await trading.confirm(cur, settings, partner_id, transaction_id, found)
        if settled_now:
            settled.update(side=row["side"], grams=row["grams"])
        return 200, transaction_json(row)

    outcome = await run_idempotent_reading(
        request, partner_id, None, trading.confirm_reads(partner_id, transaction_id), work
    )
    if settled:  # counted once the settlement has committed
        TRADES.labels(settled["side"], "confirmed").inc()
        GRAMS_TRADED.labels(settled["side"]).inc(float(settled["grams"]))
    return outcome_response(outcome)


async def cancel(request: web.Request) -> web.Response:
    partner_id = require_partner(request)
    transaction_id = request[VALIDATED].path["transaction_id"].lower()

    cancelled: dict = {}

    async def work(cur, found):
        row, cancelled_now = await trading.cancel(cur, partner_id, transaction_id, found)
        if cancelled_now:
            cancelled.update(side=row["side"])
        return 200, transaction_json(row)

    outcome = await run_idempotent_reading(
        request, partner_id, None, trading.cancel_reads(partner_id, transaction_id), work
    )
    if cancelled:
        TRADES.labels(cancelled["side"], "cancelled").inc()
    return outcome_response(outcome)


async def get(request: web.Request) -> web.Response:
    partner_id = require_partner(request)
    transaction_id = request[VALIDATED].path["transaction_id"].lower()
    async with autocommit(request.app[DB_POOL]) as cur:
        row = await transactions.get(cur, partner_id, transaction_id)
    if row is None:
        raise not_found("transaction")
    return json_response(transaction_json(row))
