"""Users of the calling partner: create, read, KYC, portfolio, history."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from ..db import autocommit
from ..services import portfolio as portfolio_service
from ..services import trading
from ..state import DB_POOL, SETTINGS
from ..store import transactions, users
from .auth import require_partner
from .idempotency import outcome_response, run_idempotent
from .problems import not_found, validation_failed
from .representations import portfolio_json, transaction_json, user_json
from .responses import json_response
from .validation import VALIDATED


async def create(request: web.Request) -> web.Response:
    partner_id = require_partner(request)
    body = request[VALIDATED].body
    currency = request.app[SETTINGS].currency

    async def work(cur):
        row, created = await users.create(cur, partner_id, body["external_id"], currency)
        return (201 if created else 200), user_json(row)

    outcome = await run_idempotent(request, partner_id, body, work)
    return outcome_response(outcome)


async def get(request: web.Request) -> web.Response:
    partner_id = require_partner(request)
    user_id = request[VALIDATED].path["user_id"].lower()
    async with autocommit(request.app[DB_POOL]) as cur:
        row = await users.get(cur, partner_id, user_id)
    if row is None:
        raise not_found("user")
    return json_response(user_json(row))


async def attest_kyc(request: web.Request) -> web.Response:
    partner_id = require_partner(request)
    user_id = request[VALIDATED].path["user_id"].lower()
    body = request[VALIDATED].body

    async def work(cur):
        return 200, user_json(await trading.attest_kyc(cur, partner_id, user_id))

    outcome = await run_idempotent(request, partner_id, body, work)
    return outcome_response(outcome)


async def portfolio(request: web.Request) -> web.Response:
    partner_id = require_partner(request)
    user_id = request[VALIDATED].path["user_id"].lower()
    valued = await portfolio_service.portfolio(request.app[DB_POOL], partner_id, user_id)
    return json_response(portfolio_json(user_id, valued.currency, valued.portfolio, valued.rate_id))


def _encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, seq = text.partition(":")
        if prefix != "seq" or not seq.isdigit():
            raise ValueError
        return int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise validation_failed(
            [{"field": "cursor", "message": "not a cursor from this API"}]
        ) from None


async def history(request: web.Request) -> web.Response:
    partner_id = require_partner(request)
    user_id = request[VALIDATED].path["user_id"].lower()
    query = request[VALIDATED].query
    side, status, limit, cursor = query["side"], query["status"], query["limit"], query["cursor"]
    before = _decode_cursor(cursor) if cursor else None
    async with autocommit(request.app[DB_POOL]) as cur:
        if await users.get(cur, partner_id, user_id) is None:
            raise not_found("user")
        rows = await transactions.list_for_user(
            cur, partner_id, user_id, side=side, status=status, before_seq=before, limit=limit + 1
        )
    page, more = rows[:limit], len(rows) > limit
    return json_response(
        {
            "items": [transaction_json(row) for row in page],
            "next_cursor": _encode_cursor(page[-1]["seq"]) if more else None,
        }
    )
