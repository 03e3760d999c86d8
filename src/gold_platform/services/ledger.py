"""Ledger reconciliation: one consistent snapshot, and the domain's verdict on it."""

from __future__ import annotations

import aiopg

from ..db import transaction
from ..domain import ledger
from ..store import ledger as ledger_store


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
