"""Marks overdue pending trades as expired, so stored status matches what reads show."""

from __future__ import annotations

import asyncio

import aiopg
import psycopg2

from ..db import transaction
from ..observability.logs import get_logger
from ..observability.metrics import TRADES
from ..store import transactions

log = get_logger(__name__)
SWEEP_INTERVAL_SECONDS = 15.0


async def sweep_once(pool: aiopg.Pool) -> int:
    async with transaction(pool) as cur:
        sides = await transactions.expire_overdue(cur)
    for side in sides:
        TRADES.labels(side, "expired").inc()
    return len(sides)


async def sweep_forever(pool: aiopg.Pool) -> None:
    """Every worker sweeps; SKIP LOCKED keeps them from stepping on each other."""
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)
        try:
            await sweep_once(pool)
        except (psycopg2.Error, OSError, TimeoutError) as exc:
            log.warning("expiry_sweep_failed", error=type(exc).__name__)
        except Exception:  # keep sweeping: one bad round must not stop expiry for good
            log.exception("expiry_sweep_failed")
