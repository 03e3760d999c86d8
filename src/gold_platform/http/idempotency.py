"""Idempotency-Key on HTTP: the header, the request's fingerprint and the
answer. The rule itself (run once per key, replay the first answer's bytes)
is services/idempotency.py; this only binds it to a request."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ..services import idempotency
from ..services.idempotency import OnReplay, Outcome, ReadWork, Work, run_once, run_once_reading
from ..state import DB_POOL
from ..store.reads import Read
from .openapi import UUID_PATTERN
from .problems import validation_failed

_UUID_IN_PATH = re.compile(UUID_PATTERN.strip("^$"))

REPLAYED_HEADER = "Idempotent-Replayed"


def fingerprint(request: web.Request, body: Any) -> bytes:
    """What makes two requests 'the same' for an Idempotency-Key. Ids in the path
    are compared as the handlers read them (case-insensitively)."""
    path = _UUID_IN_PATH.sub(lambda m: m.group(0).lower(), request.path)
    return idempotency.fingerprint(request.method, path, body)


async def run_idempotent(
    request: web.Request,
    partner_id: str | None,
    body: Any,
    work: Work,
    on_replay: OnReplay | None = None,
) -> Outcome:
    """Runs a mutating use case once per Idempotency-Key (when the client sends
    one); `partner_id=None` for the operator's routes."""
    return await run_once(
        request.app[DB_POOL],
        partner_id,
        idempotency_key(request),
        fingerprint(request, body),
        work,
        on_replay,
    )


async def run_idempotent_reading(
    request: web.Request,
    partner_id: str | None,
    body: Any,
    reads: tuple[Read, ...],
    work: ReadWork,
) -> Outcome:
    """`run_idempotent` for a use case that starts with `reads`: they go with the
    key's claim in one round trip (services/idempotency.py run_once_reading)."""
    return await run_once_reading(
        request.app[DB_POOL],
        partner_id,
        idempotency_key(request),
        fingerprint(request, body),
        reads,
        work,
    )


def outcome_response(outcome: Outcome) -> web.Response:
    """The first answer's exact bytes; a replay says so in a header."""
    return web.Response(
        body=outcome.body,
        status=outcome.status,
        content_type="application/json",
        headers={REPLAYED_HEADER: "true"} if outcome.replayed else None,
    )


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not idempotency.valid_key(key):
        raise validation_failed(
            [
                {
                    "field": "Idempotency-Key",
                    "message": f"1 to {idempotency.MAX_KEY_LENGTH} printable characters",
                }
            ]
        )
    return key
