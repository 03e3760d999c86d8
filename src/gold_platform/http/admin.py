"""Operator routes: partners and ledger reconciliation."""

from __future__ import annotations

import psycopg2
from aiohttp import web

from ..db import transaction
from ..domain.money import grams, money
from ..state import DB_POOL
from ..store import ledger, partners
from .auth import require_operator
from .bodies import json_body, visible
from .problems import Problem, validation_failed


async def create_partner(request: web.Request) -> web.Response:
    require_operator(request)
    body = await json_body(request, "CreatePartner")
    if not visible(body["name"]):
        raise validation_failed(
            [{"field": "name", "message": "must contain a visible character, not only spaces"}]
        )
    try:
        async with transaction(request.app[DB_POOL]) as cur:
            row, key = await partners.create(cur, body["name"])
    except psycopg2.errors.UniqueViolation:
        raise Problem(
            409, "partner-exists", "Partner Exists", "A partner with this name exists."
        ) from None
    return web.json_response(
        {
            "id": str(row["id"]),
            "name": row["name"],
            "api_key": key.token,
            "created_at": row["created_at"].isoformat(),
        },
        status=201,
    )


async def reconciliation(request: web.Request) -> web.Response:
    require_operator(request)
    async with transaction(request.app[DB_POOL], "REPEATABLE READ") as cur:
        report = await ledger.reconciliation(cur)
    totals = report["totals"]
    checks = {
        name: totals[name]
        for name in (
            "accounts_mismatched",
            "units_unbalanced",
            "transactions_unbalanced",
            "confirmed_without_entries",
            "negative_balances",
        )
    }
    return web.json_response(
        {
            "balanced": not any(checks.values()),
            "user_grams": grams(totals["user_grams"]),
            "vault_grams": grams(totals["vault_grams"]),
            "checks": checks,
            "money": [
                {"currency": row["unit"], "account": row["kind"], "total": money(row["total"])}
                for row in report["money"]
            ],
        }
    )
