"""What handlers share once a request is validated (http/validation.py):
idempotent execution and replay, and a few rules no schema states."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from decimal import Decimal
from typing import Any

from aiohttp import web

from ..services.idempotency import OnReplay, Outcome, Work, run_once
from ..state import DB_POOL
from .openapi import UUID_PATTERN
from .problems import validation_failed
from .validation import VALIDATED

_UUID_IN_PATH = re.compile(UUID_PATTERN.strip("^$"))


# Letters, marks, digits, punctuation and symbols; not separators (spaces),
# controls, formats (zero-width characters), surrogates or unassigned code points.
_INVISIBLE_CATEGORIES = ("Z", "C")


def visible(text: str) -> bool:
    """True when `text` shows at least one character, so a person can read it."""
    return any(unicodedata.category(c)[0] not in _INVISIBLE_CATEGORIES for c in text)


def positive(body: dict, field: str) -> Decimal | None:
    """A schema-checked decimal string that must also be greater than zero."""
    if field not in body:
        return None
    value = Decimal(body[field])
    if value <= 0:
        raise validation_failed([{"field": field, "message": "must be greater than 0"}])
    return value


def fingerprint(request: web.Request, body: Any) -> bytes:
    """What makes two requests 'the same' for an Idempotency-Key. Ids in the path
    are compared as the handlers read them (case-insensitively)."""
    path = _UUID_IN_PATH.sub(lambda m: m.group(0).lower(), request.path)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {path}\n{canonical}".encode()).digest()


REPLAYED_HEADER = "Idempotent-Replayed"


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


def outcome_response(outcome: Outcome) -> web.Response:
    """The first answer's exact bytes; a replay says so in a header."""
    return web.Response(
        body=outcome.body,
        status=outcome.status,
        content_type="application/json",
        headers={REPLAYED_HEADER: "true"} if outcome.replayed else None,
    )


def idempotency_key(request: web.Request) -> str | None:
    """The Idempotency-Key header, as the document's validation let it through."""
    return request[VALIDATED].header.get("Idempotency-Key")
