"""Users of a partner, with their gold and money accounts."""

from __future__ import annotations

# `currency` is the unit of the user's one money account: what they trade in,
# and what their cost basis is counted in.
_USER = """
    SELECT u.id, u.external_id, u.kyc_status, u.kyc_verified_at, u.created_at,
           g.balance AS balance_grams, g.cost_basis, m.unit AS currency
      FROM users u
      JOIN accounts g ON g.user_id = u.id AND g.kind = 'user_gold'
      JOIN accounts m ON m.user_id = u.id AND m.kind = 'user_money'
"""


async def create(cur, partner_id: str, external_id: str, currency: str) -> tuple[dict, bool]:
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
        return await cur.fetchone(), False
    await cur.execute(
        "INSERT INTO accounts (kind, user_id, unit) VALUES ('user_gold', %(u)s, 'XAU_G'),"
        " ('user_money', %(u)s, %(c)s)",
        {"u": inserted["id"], "c": currency},
    )
    return await get(cur, partner_id, inserted["id"]), True


async def get(cur, partner_id: str, user_id: str) -> dict | None:
    """A partner only ever finds its own users."""
    await cur.execute(_USER + " WHERE u.partner_id = %s AND u.id = %s", (partner_id, user_id))
    return await cur.fetchone()


async def verify_kyc(cur, partner_id: str, user_id: str) -> dict | None:
    await cur.execute(
        "UPDATE users SET kyc_status = 'verified', kyc_verified_at = coalesce(kyc_verified_at, now())"
        " WHERE partner_id = %s AND id = %s RETURNING id",
        (partner_id, user_id),
    )
    if await cur.fetchone() is None:
        return None
    return await get(cur, partner_id, user_id)


async def lock_holding(cur, partner_id: str, user_id: str) -> dict | None:
    """The user's gold account row, locked until commit: serialises trades per user."""
    await cur.execute(
        """
        SELECT g.id AS gold_account_id, g.balance, g.cost_basis,
               m.id AS money_account_id, u.kyc_status
          FROM users u
          JOIN accounts g ON g.user_id = u.id AND g.kind = 'user_gold'
          JOIN accounts m ON m.user_id = u.id AND m.kind = 'user_money'
         WHERE u.partner_id = %s AND u.id = %s
           FOR UPDATE OF g
        """,
        (partner_id, user_id),
    )
    return await cur.fetchone()
