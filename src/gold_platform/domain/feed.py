"""A simulated rate feed for development: a bounded random walk, reproducible by seed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal, localcontext

from .money import MONEY_CONTEXT, round_half_up_2dp
from .pricing import RatePrices


def random_walk(
    seed: int,
    start: Decimal = Decimal("6000.00"),
    low: Decimal = Decimal("4000.00"),
    high: Decimal = Decimal("9000.00"),
    max_step_ratio: Decimal = Decimal("0.002"),
    spread_ratio: Decimal = Decimal("0.03"),
    tax_rate: Decimal = Decimal("0.03"),
) -> Iterator[RatePrices]:
    """Buy prices move at most `max_step_ratio` per step and stay in [low, high];
    the sell price sits `spread_ratio` below. Same seed, same sequence."""
    rng = random.Random(seed)
    price = start
    while True:
        # Entered per step, never across the yield (that would hand it to the caller).
        with localcontext(MONEY_CONTEXT):
            step = Decimal(rng.randint(-1000, 1000)) / 1000 * max_step_ratio
            price = min(high, max(low, round_half_up_2dp(price * (1 + step))))
            sell = round_half_up_2dp(price * (1 - spread_ratio))
        yield RatePrices(buy_price=price, sell_price=sell, tax_rate=tax_rate)
