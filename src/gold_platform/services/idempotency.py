"""Run a mutating use case at most once per (partner, Idempotency-Key), and
forget keys once their replay window (IDEMPOTENCY_KEY_TTL_HOURS) has passed."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiopg
import orjson
import psycopg2

from ..db import DictCursor, transaction
from ..domain.errors import IdempotencyKeyReused
from ..observability.logs import get_logger
from ..store import idempotency
from ..store.reads import Read, fetch_reads

log = get_logger(__name__)
# The use case: (status, JSON body) from inside the key's transaction.
Work = Callable[[DictCursor], Awaitable[tuple[int, Mapping[str, Any]]]]
# A use case that reads first: the rows of its `Read`s ({name: row or None}),
# fetched in the same round trip as the key's claim.
ReadWork = Callable[
    [DictCursor, Mapping[str, Mapping[str, Any] | None]],
    Awaitable[tuple[int, Mapping[str, Any]]],
]
# Runs instead of the work when a request is replayed, in the same transaction,
# with the stored body (create-partner rotates the key it cannot replay).
OnReplay = Callable[[DictCursor, dict[str, Any]], Awaitable[None]]

MAX_KEY_LENGTH = 255

PURGE_INTERVAL_SECONDS = 300.0
# Each batch is its own short transaction; a round stops after PURGE_MAX_BATCHES
# and the next round, PURGE_INTERVAL_SECONDS later, carries on.
PURGE_BATCH = 1000
PURGE_MAX_BATCHES = 100


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    body: bytes  # serialised once: a replay answers exactly these bytes
    replayed: bool


def valid_key(key: str) -> bool:
    """1 to MAX_KEY_LENGTH printable characters."""
    return 1 <= len(key) <= MAX_KEY_LENGTH and key.isprintable()


def fingerprint(method: str, path: str, body: object) -> bytes:
    """What makes two requests 'the same' for an Idempotency-Key: the method, the
    path (as the caller normalised it) and the body, canonically serialised."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).digest()


async def run_once(
    pool: aiopg.Pool,
    partner_id: str | None,
    key: str | None,
    fingerprint: bytes,
    work: Work,
    on_replay: OnReplay | None = None,
) -> Outcome:
    """The key is claimed in the same database transaction as the work, so the
    work and its recorded response commit together or not at all. A failed
    request (any error) records nothing: the key may be retried.
    `partner_id=None` is the operator's own key space."""

    async def plain(cur: DictCursor, _rows: Mapping[str, Mapping[str, Any] | None]) -> Any:
        return await work(cur)

    return await run_once_reading(pool, partner_id, key, fingerprint, (), plain, on_replay)


async def run_once_reading(
    pool: aiopg.Pool,
    partner_id: str | None,
    key: str | None,
    fingerprint: bytes,
    reads: Sequence[Read],
    work: ReadWork,
    on_replay: OnReplay | None = None,
) -> Outcome:
    """`run_once` for a use case that starts with `reads`: they are sent with
    the claim (and BEGIN) in one round trip, and the response is recorded with
    COMMIT in another, so the key costs no round trip of its own."""
    async with transaction(pool) as cur:
        rows: Mapping[str, Mapping[str, Any] | None] = {}
        if key is None:
            if reads:
                rows = await fetch_reads(cur, reads)
        else:
            prior, rows = await idempotency.claim(cur, partner_id, key, fingerprint, reads)
            if prior is not None:
                if prior["request_hash"] != fingerprint:
                    raise IdempotencyKeyReused(
                        "This Idempotency-Key was used with a different request."
                    )
                if on_replay is not None:
                    await on_replay(cur, json.loads(prior["response_bytes"]))
                return Outcome(prior["response_status"], prior["response_bytes"], replayed=True)
        status, body = await work(cur, rows)
        raw = orjson.dumps(body)
        if key is not None:
            await idempotency.record(cur, partner_id, key, status, raw)
        return Outcome(status, raw, replayed=False)


async def purge_once(pool: aiopg.Pool, ttl_hours: int) -> int:
    """Deletes the keys older than `ttl_hours`, in batches; returns how many."""
    purged = 0
    for _ in range(PURGE_MAX_BATCHES):
        async with transaction(pool) as cur:
            deleted = await idempotency.purge_older_than(cur, ttl_hours, PURGE_BATCH)
        purged += deleted
        if deleted < PURGE_BATCH:
            break
    return purged


async def purge_forever(pool: aiopg.Pool, ttl_hours: int) -> None:
    """Every worker purges; SKIP LOCKED keeps them from stepping on each other."""
    while True:
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
        try:
            purged = await purge_once(pool, ttl_hours)
            if purged:
                log.info("idempotency_keys_purged", purged=purged)
        except (psycopg2.Error, OSError, TimeoutError) as exc:
            log.warning("idempotency_purge_failed", error=type(exc).__name__)
        except Exception:  # keep purging: one bad round must not stop it for good
            log.exception("idempotency_purge_failed")
