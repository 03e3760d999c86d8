"""Operator routes: partners and ledger reconciliation."""

from __future__ import annotations

import json

import psycopg2
from aiohttp import web

from ..services import ledger as ledger_service
from ..state import DB_POOL
from ..store import partners
from .auth import require_operator
from .bodies import visible
from .idempotency import REPLAYED_HEADER, run_idempotent
from .problems import Problem, validation_failed
from .representations import reconciliation_json
from .responses import json_response
from .validation import VALIDATED


async def create_partner(request: web.Request) -> web.Response:
    require_operator(request)
    body = request[VALIDATED].body
    if not visible(body["name"]):
        raise validation_failed(
            [{"field": "name", "message": "must contain a visible character, not only spaces"}]
        )
    issued: list[partners.IssuedKey] = []

    async def work(cur):
        row, key = await partners.create(cur, body["name"])
        issued.append(key)
        # What a replay keeps: never the key, only its hash is stored.
        return 201, {
            "id": str(row["id"]),
            "name": row["name"],
            "created_at": row["created_at"].isoformat(),
        }

    async def rotate(cur, partner: dict) -> None:
        """A lost answer lost the key with it: the retry gets a new one."""
        issued.append(await partners.rotate_key(cur, partner["id"]))

    try:
        outcome = await run_idempotent(request, None, body, work, on_replay=rotate)
    except psycopg2.errors.UniqueViolation:
        raise Problem(
            409, "partner-exists", "Partner Exists", "A partner with this name exists."
        ) from None
    partner = json.loads(outcome.body)
    return json_response(
        {**partner, "api_key": issued[0].token},
        status=outcome.status,
        headers={REPLAYED_HEADER: "true"} if outcome.replayed else None,
    )


async def reconciliation(request: web.Request) -> web.Response:
    require_operator(request)
    report = await ledger_service.reconcile(request.app[DB_POOL])
    return json_response(reconciliation_json(report))
