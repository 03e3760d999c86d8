"""Run a mutating use case at most once per (partner, Idempotency-Key)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiopg

from ..db import transaction
from ..domain.errors import IdempotencyKeyReused
from ..store import idempotency

Work = Callable[[object], Awaitable[tuple[int, dict]]]


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    body: dict
    replayed: bool


async def run_once(
    pool: aiopg.Pool, partner_id: str, key: str | None, fingerprint: bytes, work: Work
) -> Outcome:
    """The key is claimed in the same database transaction as the work, so the
    work and its recorded response commit together or not at all. A failed
    request (any error) records nothing: the key may be retried."""
    async with transaction(pool) as cur:
        if key is not None and not await idempotency.claim(cur, partner_id, key, fingerprint):
            prior = await idempotency.stored(cur, partner_id, key)
            if prior["request_hash"] != fingerprint:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was used with a different request."
                )
            return Outcome(prior["response_status"], prior["response_body"], replayed=True)
        status, body = await work(cur)
        if key is not None:
            await idempotency.record(cur, partner_id, key, status, body)
        return Outcome(status, body, replayed=False)
