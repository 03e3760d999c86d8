"""Ledger reconciliation: one consistent snapshot, and the domain's verdict on it."""

from __future__ import annotations

import asyncio

import aiopg
import psycopg2
import psycopg2.errors

from ..db import transaction
from ..domain import ledger
from ..observability.logs import get_logger
from ..store import ledger as ledger_store

log = get_logger(__name__)


async def reconcile(pool: aiopg.Pool) -> ledger.Reconciliation:
    """Every figure from one REPEATABLE READ snapshot, so they agree with each other."""
    async with transaction(pool, "REPEATABLE READ") as cur:
        report = await ledger_store.reconciliation(cur)
    totals = report["totals"]
    counts = {
        "accounts_mismatched": totals["accounts_mismatched"],
        "units_unbalanced": totals["units_unbalanced"],
        "transactions_unbalanced": totals["transactions_unbalanced"],
        "confirmed_without_entries": totals["confirmed_without_entries"],
        "negative_balances": totals["negative_balances"],
    }
    return ledger.reconcile(
        counts,
        totals["user_grams"],
        totals["vault_grams"],
        [ledger.MoneyTotal(row["unit"], row["kind"], row["total"]) for row in report["money"]],
    )


# The checkpoint lags the ledger by about one interval, so a reconciliation
# sums about that much of the ledger; a step adds at most CHECKPOINT_STEP_ENTRIES
# (a backlog, e.g. after a restore, is worked off over several steps).
CHECKPOINT_INTERVAL_SECONDS = 5.0
CHECKPOINT_STEP_ENTRIES = 200_000


async def advance_checkpoint(pool: aiopg.Pool) -> ledger_store.Checkpoint:
    async with transaction(pool) as cur:
        return await ledger_store.advance_checkpoint(cur, CHECKPOINT_STEP_ENTRIES)


async def checkpoint_forever(pool: aiopg.Pool) -> None:
    """Every worker tries; the one that locks the checkpoint row does the step."""
    held_before: str | None = None
    while True:
        await asyncio.sleep(CHECKPOINT_INTERVAL_SECONDS)
        try:
            step = await advance_checkpoint(pool)
        except psycopg2.errors.UndefinedFunction:
            continue  # a schema before migration 0006 (rolled back): reconciliation is full
        except (psycopg2.Error, OSError, TimeoutError) as exc:
            log.warning("ledger_checkpoint_failed", error=type(exc).__name__)
            continue
        except Exception:  # keep going: one bad round must not stop the checkpoint for good
            log.exception("ledger_checkpoint_failed")
            continue
        if step["held_because"] and step["held_because"] != held_before:
            log.warning("ledger_checkpoint_held", reason=step["held_because"])
        held_before = step["held_because"]
