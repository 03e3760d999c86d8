"""Ledger-wide reads: reconciliation of entries against materialised balances."""

from __future__ import annotations


async def ensure_platform_accounts(cur, currency: str) -> None:
    await cur.execute(
        "INSERT INTO accounts (kind, unit) VALUES ('vault_gold', 'XAU_G'), ('treasury_money', %s)"
        " ON CONFLICT (kind, unit) WHERE user_id IS NULL DO NOTHING",
        (currency,),
    )


async def reconciliation(cur) -> dict:
    """One consistent snapshot (the caller runs it REPEATABLE READ)."""
    await cur.execute(
        """
        SELECT
          (SELECT coalesce(sum(balance), 0) FROM accounts WHERE kind = 'user_gold')
              AS user_grams,
          (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
             JOIN accounts a ON a.id = e.account_id WHERE a.kind = 'user_gold')
              AS user_grams_from_entries,
          (SELECT coalesce(sum(e.amount), 0) FROM ledger_entries e
             JOIN accounts a ON a.id = e.account_id WHERE a.kind = 'vault_gold')
              AS vault_grams,
          (SELECT count(*) FROM (
               SELECT a.id FROM accounts a
                 LEFT JOIN ledger_entries e ON e.account_id = a.id
                WHERE a.user_id IS NOT NULL
                GROUP BY a.id, a.balance
               HAVING a.balance <> coalesce(sum(e.amount), 0)) mismatched)
              AS accounts_mismatched,
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
    gold = await cur.fetchone()
    await cur.execute(
        """
        SELECT e.unit, a.kind, sum(e.amount) AS total
          FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
         WHERE e.unit <> 'XAU_G'
         GROUP BY e.unit, a.kind ORDER BY e.unit, a.kind
        """
    )
    money = await cur.fetchall()
    return {"gold": gold, "money": money}
