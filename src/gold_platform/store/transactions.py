"""Trades (pending → confirmed / cancelled / expired) and their settlement postings."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ..domain.ledger import Posting
from ..domain.pricing import Quote

_COLUMNS = """
    t.id, t.seq, t.user_id, t.rate_id, t.side, t.quoted_in, t.status, t.currency, t.grams,
    t.price_per_gram, t.tax_rate, t.pre_tax_amount, t.tax_amount, t.total_amount,
    t.created_at, t.expires_at, t.settled_at, t.expires_at <= clock_timestamp() AS past_expiry
"""

# Status filters as users see them: a pending trade past its expiry is expired.
_STATUS_FILTERS = {
    "pending": "t.status = 'pending' AND t.expires_at > now()",
    "expired": "(t.status = 'expired' OR (t.status = 'pending' AND t.expires_at <= now()))",
    "confirmed": "t.status = 'confirmed'",
    "cancelled": "t.status = 'cancelled'",
}
STATUSES = tuple(_STATUS_FILTERS)


async def create_pending(
    cur,
    partner_id: str,
    user_id: str,
    rate_id: str,
    currency: str,
    quote: Quote,
    expiry_seconds: int,
) -> dict:
    await cur.execute(
        f"""
        WITH t AS (
            INSERT INTO transactions (partner_id, user_id, rate_id, side, quoted_in, currency,
                grams, price_per_gram, tax_rate, pre_tax_amount, tax_amount, total_amount,
                expires_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                    now() + make_interval(secs => %s))
            RETURNING *
        )
        SELECT {_COLUMNS} FROM t
        """,
        (
            partner_id,
            user_id,
            rate_id,
            quote.side,
            quote.quoted_in,
            currency,
            quote.grams,
            quote.price_per_gram,
            quote.tax_rate,
            quote.pre_tax_amount,
            quote.tax_amount,
            quote.total_amount,
            expiry_seconds,
        ),
    )
    return await cur.fetchone()


async def get(cur, partner_id: str, transaction_id: str, *, lock: bool = False) -> dict | None:
    """A partner only ever finds its own transactions."""
    await cur.execute(
        f"SELECT {_COLUMNS} FROM transactions t WHERE t.partner_id = %s AND t.id = %s"
        + (" FOR UPDATE" if lock else ""),
        (partner_id, transaction_id),
    )
    return await cur.fetchone()


async def cancel(cur, transaction_id: str) -> dict:
    await cur.execute(
        f"""
        WITH t AS (
            UPDATE transactions SET status = 'cancelled' WHERE id = %s RETURNING *
        )
        SELECT {_COLUMNS} FROM t
        """,
        (transaction_id,),
    )
    return await cur.fetchone()


async def settle(
    cur,
    transaction_id: str,
    user_accounts: dict[str, str],
    postings: Sequence[Posting],
    gold_change: Decimal,
    money_change: Decimal,
    cost_basis: Decimal,
) -> dict:
    """Confirms a trade in one statement: the user's materialised balances, the
    ledger entries and the status change, inside the caller's transaction.

    Platform accounts (vault, treasury) are not materialised: every trade
    would otherwise queue on their single row. Their balance is the sum of
    their entries, which reconciliation computes.
    """
    entry_rows = []
    entry_params: list[object] = []
    for posting in postings:
        if posting.account in user_accounts:
            entry_rows.append("(%s, %s::uuid, %s, %s)")
            entry_params += [transaction_id, user_accounts[posting.account]]
        else:
            entry_rows.append(
                "(%s, (SELECT id FROM accounts WHERE user_id IS NULL AND kind = %s AND unit = %s),"
                " %s, %s)"
            )
            entry_params += [transaction_id, posting.account, posting.unit]
        entry_params += [posting.unit, posting.amount]
    await cur.execute(
        f"""
        WITH gold AS (
            UPDATE accounts SET balance = balance + %s, cost_basis = %s WHERE id = %s
        ), money AS (
            UPDATE accounts SET balance = balance + %s WHERE id = %s
        ), entries AS (
            INSERT INTO ledger_entries (transaction_id, account_id, unit, amount)
            VALUES {", ".join(entry_rows)}
        ), t AS (
            UPDATE transactions SET status = 'confirmed', settled_at = now()
             WHERE id = %s
            RETURNING *
        )
        SELECT {_COLUMNS} FROM t
        """,
        [
            gold_change,
            cost_basis,
            user_accounts["user_gold"],
            money_change,
            user_accounts["user_money"],
            *entry_params,
            transaction_id,
        ],
    )
    return await cur.fetchone()


async def list_for_user(
    cur,
    partner_id: str,
    user_id: str,
    *,
    side: str | None,
    status: str | None,
    before_seq: int | None,
    limit: int,
) -> list[dict]:
    """Newest first, keyset-paginated on seq: rows that arrive meanwhile never shift pages."""
    conditions = ["t.partner_id = %s", "t.user_id = %s"]
    params: list[object] = [partner_id, user_id]
    if side is not None:
        conditions.append("t.side = %s")
        params.append(side)
    if status is not None:
        conditions.append(_STATUS_FILTERS[status])  # a fixed fragment chosen by key, not input
    if before_seq is not None:
        conditions.append("t.seq < %s")
        params.append(before_seq)
    params.append(limit)
    await cur.execute(
        f"SELECT {_COLUMNS} FROM transactions t WHERE {' AND '.join(conditions)}"
        " ORDER BY t.seq DESC LIMIT %s",
        params,
    )
    return await cur.fetchall()


async def expire_overdue(cur, batch: int = 500) -> list[str]:
    """Marks overdue pending trades expired; returns their sides (for metrics)."""
    await cur.execute(
        """
        UPDATE transactions SET status = 'expired'
         WHERE id IN (SELECT id FROM transactions
                       WHERE status = 'pending' AND expires_at <= now()
                       ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED)
        RETURNING side
        """,
        (batch,),
    )
    return [row["side"] for row in await cur.fetchall()]
