"""Trades (pending → confirmed / cancelled / expired) and their settlement postings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TypedDict, cast

from ..db import DictCursor
from ..domain.ledger import Posting
from ..domain.pricing import Quote, QuotedIn, Side
from .reads import Read


class TransactionRow(TypedDict):
    id: str
    seq: int
    user_id: str
    rate_id: str
    side: Side
    quoted_in: QuotedIn
    status: str  # as stored: 'pending' | 'confirmed' | 'cancelled' | 'expired'
    currency: str
    grams: Decimal
    price_per_gram: Decimal
    tax_rate: Decimal
    pre_tax_amount: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    created_at: datetime
    expires_at: datetime
    settled_at: datetime | None
    past_expiry: bool


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
    cur: DictCursor,
    partner_id: str,
    user_id: str,
    rate_id: str,
    currency: str,
    quote: Quote,
    expiry_seconds: int,
) -> TransactionRow:
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
    return cast(TransactionRow, await cur.fetchone())


_BY_ID = f"SELECT {_COLUMNS} FROM transactions t WHERE t.partner_id = %s AND t.id = %s"


async def get(cur: DictCursor, partner_id: str, transaction_id: str) -> TransactionRow | None:
    """A partner only ever finds its own transactions."""
    await cur.execute(_BY_ID, (partner_id, transaction_id))
    return cast("TransactionRow | None", await cur.fetchone())


def read(partner_id: str, transaction_id: str) -> Read:
    """`get` as a Read named "trade", to send inside another statement (a TransactionRow)."""
    return Read("trade", _BY_ID, (partner_id, transaction_id))


# Only a pending trade that has not expired may be confirmed or cancelled; the
# statement says so itself, so a trade that left 'pending' after it was read
# is never changed (the database also refuses any change to a final state).
_STILL_PENDING = "id = %s AND status = 'pending' AND expires_at > clock_timestamp()"


async def cancel(cur: DictCursor, transaction_id: str) -> TransactionRow | None:
    """None when the trade is no longer pending (or has expired): nothing changed."""
    await cur.execute(
        f"""
        WITH t AS (
            UPDATE transactions SET status = 'cancelled' WHERE {_STILL_PENDING} RETURNING *
        )
        SELECT {_COLUMNS} FROM t
        """,
        (transaction_id,),
    )
    return cast("TransactionRow | None", await cur.fetchone())


async def settle(
    cur: DictCursor,
    transaction_id: str,
    user_accounts: dict[str, str],
    postings: Sequence[Posting],
    cost_basis: Decimal,
) -> TransactionRow | None:
    """Confirms a trade in one statement, inside the caller's transaction: the
    status change, the ledger entries and the user's stored balances (each
    user account changes by its posting). Every part hangs on the status
    change, so when the trade is no longer pending (or has expired) nothing
    changes and the result is None.

    Platform accounts (vault, treasury) keep no stored balance: every trade
    would otherwise queue on their single row. Their balance is the sum of
    their entries (the view account_balances).
    """
    entry_rows = []
    entry_params: list[object] = []
    for posting in postings:
        if posting.account in user_accounts:
            entry_rows.append("(%s::uuid, %s, %s)")
            entry_params.append(user_accounts[posting.account])
        else:
            entry_rows.append(
                "((SELECT id FROM accounts WHERE user_id IS NULL AND kind = %s AND unit = %s),"
                " %s, %s)"
            )
            entry_params += [posting.account, posting.unit]
        entry_params += [posting.unit, posting.amount]
    change = {p.account: p.amount for p in postings if p.account in user_accounts}
    await cur.execute(
        f"""
        WITH t AS (
            UPDATE transactions SET status = 'confirmed', settled_at = now()
             WHERE {_STILL_PENDING}
            RETURNING *
        ), entries AS (
            INSERT INTO ledger_entries (transaction_id, account_id, unit, amount)
            SELECT t.id, e.account_id, e.unit, e.amount
              FROM t, (VALUES {", ".join(entry_rows)}) AS e (account_id, unit, amount)
        ), gold AS (
            UPDATE accounts SET balance = balance + %s, cost_basis = %s
             WHERE id = %s AND EXISTS (SELECT FROM t)
        ), money AS (
            UPDATE accounts SET balance = balance + %s
             WHERE id = %s AND EXISTS (SELECT FROM t)
        )
        SELECT {_COLUMNS} FROM t
        """,
        [
            transaction_id,
            *entry_params,
            change["user_gold"],
            cost_basis,
            user_accounts["user_gold"],
            change["user_money"],
            user_accounts["user_money"],
        ],
    )
    return cast("TransactionRow | None", await cur.fetchone())


async def list_for_user(
    cur: DictCursor,
    partner_id: str,
    user_id: str,
    *,
    side: str | None,
    status: str | None,
    before_seq: int | None,
    limit: int,
) -> list[TransactionRow]:
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
    return cast(list[TransactionRow], await cur.fetchall())


async def expire_overdue(cur: DictCursor, batch: int = 500) -> list[Side]:
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
