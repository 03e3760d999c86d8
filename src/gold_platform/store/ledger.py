"""Ledger-wide reads: reconciliation of the entries against the stored user balances.

A platform account (vault, treasury) stores no balance; its balance is the sum
of its entries, read from the view account_balances.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypedDict, cast

from ..db import DictCursor


class ReconciliationTotals(TypedDict):
    """Platform-wide gold totals, and counts of what is wrong (all 0 when balanced)."""

    user_grams: Decimal
    vault_grams: Decimal
    accounts_mismatched: int
    units_unbalanced: int
    transactions_unbalanced: int
    confirmed_without_entries: int
    negative_balances: int


class MoneyTotal(TypedDict):
    unit: str
    kind: str  # 'user_money' | 'treasury_money'
    total: Decimal


class ReconciliationReport(TypedDict):
    totals: ReconciliationTotals
    money: list[MoneyTotal]


async def ensure_platform_accounts(cur: DictCursor, currency: str) -> None:
    await cur.execute(
        "INSERT INTO accounts (kind, unit) VALUES ('vault_gold', 'XAU_G'), ('treasury_money', %s)"
        " ON CONFLICT (kind, unit) WHERE user_id IS NULL DO NOTHING",
        (currency,),
    )


async def reconciliation(cur: DictCursor) -> ReconciliationReport:
    """One consistent snapshot (the caller runs it REPEATABLE READ). Every check
    counts what is wrong, so the ledger is balanced when all of them are 0."""
    await cur.execute(
        """
        SELECT
          (SELECT coalesce(sum(balance), 0) FROM accounts WHERE kind = 'user_gold')
              AS user_grams,
          (SELECT coalesce(sum(balance), 0) FROM account_balances WHERE kind = 'vault_gold')
              AS vault_grams,
          (SELECT count(*) FROM accounts a JOIN account_balances b ON b.account_id = a.id
            WHERE a.user_id IS NOT NULL AND a.balance <> b.balance)
              AS accounts_mismatched,
          (SELECT count(*) FROM (
               SELECT unit FROM account_balances GROUP BY unit HAVING sum(balance) <> 0) u)
              AS units_unbalanced,
          (SELECT count(*) FROM (
               SELECT transaction_id, unit FROM ledger_entries
                GROUP BY transaction_id, unit HAVING sum(amount) <> 0) unbalanced)
              AS transactions_unbalanced,
          (SELECT count(*) FROM transactions t WHERE t.status = 'confirmed'
               AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = t.id))
              AS confirmed_without_entries,
          (SELECT count(*) FROM accounts WHERE kind = 'user_gold' AND balance < 0)
              AS negative_balances
        """
    )
    totals = cast(ReconciliationTotals, await cur.fetchone())
    await cur.execute(
        """
        SELECT unit, kind, sum(balance) AS total FROM account_balances
         WHERE kind IN ('user_money', 'treasury_money')
         GROUP BY unit, kind ORDER BY unit, kind
        """
    )
    return {"totals": totals, "money": cast(list[MoneyTotal], await cur.fetchall())}
