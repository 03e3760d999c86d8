"""A user's portfolio: their holding, valued at their currency's current rate."""

from __future__ import annotations

from dataclasses import dataclass

import aiopg

from ..db import autocommit
from ..domain import portfolio as portfolio_rules
from ..domain.errors import NotFound
from ..store import rates, users


@dataclass(frozen=True, slots=True)
class ValuedPortfolio:
    currency: str  # the user's: their cost basis is counted in it
    portfolio: portfolio_rules.Portfolio
    rate_id: str | None  # the rate it is valued at; None before any was published


async def portfolio(pool: aiopg.Pool, partner_id: str, user_id: str) -> ValuedPortfolio:
    async with autocommit(pool) as cur:
        user = await users.get(cur, partner_id, user_id)
        if user is None:
            raise NotFound("The user does not exist.")
        # In the user's currency (their cost basis is counted in it), not the setting's.
        rate = await rates.current(cur, user["currency"])
    view = portfolio_rules.portfolio(
        user["balance_grams"], user["cost_basis"], rate["sell_price"] if rate else None
    )
    return ValuedPortfolio(user["currency"], view, str(rate["id"]) if rate else None)
