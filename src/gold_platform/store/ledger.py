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


class Checkpoint(TypedDict):
    added: int  # entries the step added to the checkpoint
    through_entry: int
    entries_after: int  # entries after it: what the next reconciliation sums
    held_because: str | None  # why it stopped short (a problem it would not move past)


async def ensure_platform_accounts(cur: DictCursor, currency: str) -> None:
    await cur.execute(
        "INSERT INTO accounts (kind, unit) VALUES ('vault_gold', 'XAU_G'), ('treasury_money', %s)"
        " ON CONFLICT (kind, unit) WHERE user_id IS NULL DO NOTHING",
        (currency,),
    )


# Every account's balance as its entries sum it, without reading the whole
# ledger: the checkpoint's sum (every entry up to ledger_checkpoint.through_entry,
# migration 0006) plus the entries after it. Without a checkpoint row it
# starts at 0, which is the full sum; so does a schema without 0006 (a
# rollback), where the checkpoint's tables are read as empty.
# The bounds are parameters, not a join: the planner then reads only the
# entries (primary key) and transactions (seq) after them.
_CHECKPOINT = """
    WITH checkpoint_balances AS (SELECT account_id, balance FROM ledger_checkpoint_balances),
    checkpoint_open AS (SELECT transaction_id FROM ledger_checkpoint_open),
"""
_NO_CHECKPOINT = """
    WITH checkpoint_balances AS (SELECT NULL::uuid AS account_id, NULL::numeric AS balance LIMIT 0),
    checkpoint_open AS (SELECT NULL::uuid AS transaction_id LIMIT 0),
"""
_BALANCES = """
    recent AS (
        SELECT e.account_id, sum(e.amount) AS amount
          FROM ledger_entries e
         WHERE e.id > %(through_entry)s
         GROUP BY e.account_id
    ), summed AS (
        SELECT a.id, a.kind, a.user_id, a.unit, a.balance AS stored,
               coalesce(c.balance, 0) + coalesce(r.amount, 0) AS balance
          FROM accounts a
          LEFT JOIN checkpoint_balances c ON c.account_id = a.id
          LEFT JOIN recent r ON r.account_id = a.id
    )
"""


async def reconciliation(cur: DictCursor) -> ReconciliationReport:
    """One consistent snapshot (the caller runs it REPEATABLE READ). Every check
    counts what is wrong, so the ledger is balanced when all of them are 0.

    Incremental (docs/database.md, Reconciliation): balances are the
    checkpoint's sums plus the entries after it; per-transaction checks read
    the transactions after the checkpoint and those on its open list (not
    final when it passed them); it checked the others when it moved past them."""
    await cur.execute("SELECT to_regclass('ledger_checkpoint') IS NOT NULL AS present")
    present = cast(dict[str, bool], await cur.fetchone())["present"]
    bounds = {"through_entry": 0, "through_seq": 0}
    if present:
        await cur.execute("SELECT through_entry, through_seq FROM ledger_checkpoint")
        bounds = cast(dict[str, int], await cur.fetchone()) or bounds
    balances = (_CHECKPOINT if present else _NO_CHECKPOINT) + _BALANCES
    await cur.execute(
        balances
        + """
        SELECT
          (SELECT coalesce(sum(stored), 0) FROM summed WHERE kind = 'user_gold')
              AS user_grams,
          (SELECT coalesce(sum(balance), 0) FROM summed WHERE kind = 'vault_gold')
              AS vault_grams,
          (SELECT count(*) FROM summed WHERE user_id IS NOT NULL AND stored <> balance)
              AS accounts_mismatched,
          (SELECT count(*) FROM (
               SELECT unit FROM summed GROUP BY unit HAVING sum(balance) <> 0) u)
              AS units_unbalanced,
          -- Each recent transaction's own entries, through its index (a
          -- lateral per transaction: never a pass over the whole ledger).
          (SELECT count(*) FROM (
               SELECT DISTINCT n.transaction_id FROM ledger_entries n
                WHERE n.id > %(through_entry)s) r
             CROSS JOIN LATERAL (
               SELECT e.unit FROM ledger_entries e WHERE e.transaction_id = r.transaction_id
                GROUP BY e.unit HAVING sum(e.amount) <> 0) unbalanced)
              AS transactions_unbalanced,
          -- After the checkpoint by seq, plus its open list (before it by seq).
          (SELECT count(*) FROM transactions t
            WHERE t.seq > %(through_seq)s AND t.status = 'confirmed'
              AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = t.id))
          + (SELECT count(*) FROM checkpoint_open o
               CROSS JOIN LATERAL (
                 SELECT 1 FROM transactions t
                  WHERE t.id = o.transaction_id AND t.seq <= %(through_seq)s
                    AND t.status = 'confirmed'
                    AND NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = t.id)
               ) found)
              AS confirmed_without_entries,
          (SELECT count(*) FROM accounts WHERE kind = 'user_gold' AND balance < 0)
              AS negative_balances
        """,
        bounds,
    )
    totals = cast(ReconciliationTotals, await cur.fetchone())
    await cur.execute(
        balances
        + """
        SELECT unit, kind, sum(balance) AS total FROM summed
         WHERE kind IN ('user_money', 'treasury_money')
         GROUP BY unit, kind ORDER BY unit, kind
        """,
        bounds,
    )
    return {"totals": totals, "money": cast(list[MoneyTotal], await cur.fetchall())}


async def advance_checkpoint(cur: DictCursor, max_entries: int) -> Checkpoint:
    """One step of the reconciliation checkpoint (ledger_checkpoint_advance,
    migration 0006); returns where it stands."""
    await cur.execute("SELECT ledger_checkpoint_advance(%s) AS added", (max_entries,))
    added = cast(dict[str, int], await cur.fetchone())["added"]
    await cur.execute(
        "SELECT through_entry, held_because,"
        " (SELECT coalesce(max(id), 0) FROM ledger_entries) - through_entry AS entries_after"
        " FROM ledger_checkpoint"
    )
    row = await cur.fetchone()
    if row is None:
        return {"added": added, "through_entry": 0, "entries_after": 0, "held_because": None}
    return cast(Checkpoint, {"added": added, **row})
