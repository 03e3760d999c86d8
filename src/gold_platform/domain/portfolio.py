"""Cost basis (average-cost method) and the portfolio view of a holding."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .money import (
    GRAMS_STEP,
    MAX_GRAMS,
    MAX_MONEY,
    MONEY_CONTEXT,
    ZERO,
    in_money_context,
    round_down_2dp,
    round_half_up_2dp,
)
from .pricing import Side

# The largest figures the view of a holding within rules.check_holding_limits
# can show: an average over as little as 0.0001 g, and a value at the highest
# price (a loss is at most what was invested).
MAX_AVERAGE_PRICE = MONEY_CONTEXT.divide(MAX_MONEY, GRAMS_STEP)
MAX_VALUE = MONEY_CONTEXT.multiply(MAX_GRAMS, MAX_MONEY)


@in_money_context
def cost_basis_after(
    side: Side, cost: Decimal, held: Decimal, grams: Decimal, total: Decimal
) -> Decimal:
    """Buying adds what was paid; selling removes the sold share of the average cost."""
    if side == "buy":
        return cost + total
    if grams >= held:
        return ZERO
    return cost - round_half_up_2dp(cost * grams / held)


@dataclass(frozen=True, slots=True)
class Portfolio:
    grams: Decimal
    invested_amount: Decimal
    average_buy_price: Decimal | None
    current_value: Decimal | None  # None until a rate has been published
    unrealised_pnl: Decimal | None


@in_money_context
def portfolio(grams: Decimal, cost: Decimal, sell_price: Decimal | None) -> Portfolio:
    average = round_half_up_2dp(cost / grams) if grams > 0 else None
    if sell_price is None:
        return Portfolio(grams, cost, average, None, None)
    value = round_down_2dp(grams * sell_price)
    return Portfolio(grams, cost, average, value, value - cost)
