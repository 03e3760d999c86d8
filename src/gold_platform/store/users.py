"""Users of a partner, with their gold and money accounts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TypedDict, cast

from ..db import DictCursor
from .reads import Read


class UserRow(TypedDict):
    id: str
    external_id: str
    kyc_status: str  # 'unverified' | 'verified'
    kyc_verified_at: datetime | None
    created_at: datetime
    balance_grams: Decimal
    cost_basis: Decimal
    currency: str


class HoldingRow(TypedDict):
    """The user's accounts as a settlement locks them."""

    gold_account_id: str
    balance: Decimal
    cost_basis: Decimal
    money_account_id: str
    kyc_status: str


# `currency` is the unit of the user's one money account: what they trade in,
# and what their cost basis is counted in.
_USER = """
    SELECT u.id, u.external_id, u.kyc_status, u.kyc_verified_at, u.created_at,
           g.balance AS balance_grams, g.cost_basis, m.unit AS currency
      FROM users u
      JOIN accounts g ON g.user_id = u.id AND g.kind = 'user_gold'
      JOIN accounts m ON m.user_id = u.id AND m.kind = 'user_money'
"""


async def create(
    cur: DictCursor, partner_id: str, external_id: str, currency: str
) -> tuple[UserRow, bool]:
    """Returns (user, created). Creating an existing external_id returns that user."""
    await cur.execute(
        "INSERT INTO users (partner_id, external_id) VALUES (%s, %s)"
        " ON CONFLICT (partner_id, external_id) DO NOTHING RETURNING id",
        (partner_id, external_id),
    )
    inserted = await cur.fetchone()
    if inserted is None:
        await cur.execute(
            _USER + " WHERE u.partner_id = %s AND u.external_id = %s", (partner_id, external_id)
        )
        return cast(UserRow, await cur.fetchone()), False
    await cur.execute(
        "INSERT INTO accounts (kind, user_id, unit) VALUES ('user_gold', %(u)s, 'XAU_G'),"
        " ('user_money', %(u)s, %(c)s)",
        {"u": inserted["id"], "c": currency},
    )
    return cast(UserRow, await get(cur, partner_id, inserted["id"])), True


_BY_ID = _USER + " WHERE u.partner_id = %s AND u.id = %s"


async def get(cur: DictCursor, partner_id: str, user_id: str) -> UserRow | None:
    """A partner only ever finds its own users."""
    await cur.execute(_BY_ID, (partner_id, user_id))
    return cast("UserRow | None", await cur.fetchone())


def read(partner_id: str, user_id: str) -> Read:
    """`get` as a Read named "user", to send inside another statement (its row is a UserRow)."""
    return Read("user", _BY_ID, (partner_id, user_id))


async def verify_kyc(cur: DictCursor, partner_id: str, user_id: str) -> UserRow | None:
    await cur.execute(
        "UPDATE users SET kyc_status = 'verified', kyc_verified_at = coalesce(kyc_verified_at, now())"
        " WHERE partner_id = %s AND id = %s RETURNING id",
        (partner_id, user_id),
    )
    if await cur.fetchone() is None:
        return None
    return await get(cur, partner_id, user_id)


_LOCK_HOLDING = """
    SELECT g.id AS gold_account_id, g.balance, g.cost_basis,
           m.id AS money_account_id, u.kyc_status
      FROM users u
      JOIN accounts g ON g.user_id = u.id AND g.kind = 'user_gold'
      JOIN accounts m ON m.user_id = u.id AND m.kind = 'user_money'
     WHERE u.partner_id = %s AND u.id = {user_id}
       FOR UPDATE OF g
"""


async def lock_holding(cur: DictCursor, partner_id: str, user_id: str) -> HoldingRow | None:
    """The user's gold account row, locked until commit: serialises trades per user."""
    await cur.execute(_LOCK_HOLDING.format(user_id="%s"), (partner_id, user_id))
    return cast("HoldingRow | None", await cur.fetchone())


def lock_holding_read(partner_id: str, user_id_column: str) -> Read:
    """`lock_holding` as a Read named "holding" (a HoldingRow), of the user that
    an earlier Read of the same statement found: `user_id_column` is that
    column (reads.column). It locks when it runs, as `lock_holding` does."""
    return Read("holding", _LOCK_HOLDING.format(user_id=user_id_column), (partner_id,))
