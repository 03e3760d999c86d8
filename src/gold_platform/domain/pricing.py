"""Quotes for buys and sells at a locked rate.

Rounding never favours the user over the platform and is the same in every
code path (product rules, "Units and rounding"):
- buy by amount (amount includes tax): grams = round_down_4dp(amount / buy_price_with_tax)
- buy by grams:  total  = round_up_2dp(grams * buy_price_with_tax)
- sell by grams: payout = round_down_2dp(grams * sell_price)
- sell by amount: grams = round_up_4dp(amount / sell_price), payout = amount
For buys the tax inside the total is split off as
pre_tax = round_down_2dp(total / (1 + tax_rate)) and tax = total - pre_tax,
so the two always add up to what the user pays.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from .errors import AboveMaximum, BelowMinimum, InvalidField
from .money import (
    MAX_GRAMS,
    MAX_MONEY,
    ONE,
    ZERO,
    in_money_context,
    round_down_2dp,
    round_down_4dp,
    round_up_2dp,
    round_up_4dp,
)

# The largest total one trade may carry (the largest amount the API shows).
MAX_TOTAL = MAX_MONEY

Side = Literal["buy", "sell"]
QuotedIn = Literal["amount", "grams"]


@dataclass(frozen=True, slots=True)
class RatePrices:
    buy_price: Decimal
    sell_price: Decimal
    tax_rate: Decimal

    @property
    @in_money_context
    def buy_price_with_tax(self) -> Decimal:
        return round_up_2dp(self.buy_price * (ONE + self.tax_rate))


@in_money_context
def check_publishable(rate: RatePrices) -> None:
    """The rules every published rate keeps, whoever publishes it (the operator's
    API, the feed): both prices above 0, the sell price not above the buy price,
    a tax rate in [0, 1), and every price it shows, tax included, an amount the
    API can show."""
    if rate.buy_price <= ZERO or rate.sell_price <= ZERO:
        raise InvalidField("buy_price|sell_price", "must be greater than 0")
    if rate.sell_price > rate.buy_price:
        raise InvalidField("sell_price", "must not exceed buy_price")
    if not ZERO <= rate.tax_rate < ONE:
        raise InvalidField("tax_rate", "must be from 0 up to (not including) 1")
    if rate.buy_price_with_tax > MAX_MONEY:
        raise AboveMaximum(
            f"The buy price with tax would be {rate.buy_price_with_tax:f}; a price may be"
            f" at most {MAX_MONEY:f}."
        )


@dataclass(frozen=True, slots=True)
class Quote:
    side: Side
    quoted_in: QuotedIn
    grams: Decimal
    price_per_gram: Decimal
    tax_rate: Decimal
    pre_tax_amount: Decimal
    tax_amount: Decimal
    total_amount: Decimal  # what the user pays (buy) or receives (sell)


def _buy_quote(rate: RatePrices, quoted_in: QuotedIn, grams: Decimal, total: Decimal) -> Quote:
    pre_tax = round_down_2dp(total / (ONE + rate.tax_rate))
    return Quote(
        "buy", quoted_in, grams, rate.buy_price, rate.tax_rate, pre_tax, total - pre_tax, total
    )


def _check_minimum_buy(total: Decimal, minimum: Decimal) -> None:
    if total < minimum:
        raise BelowMinimum(f"A buy must total at least {minimum:f}.")


@in_money_context
def buy_by_amount(rate: RatePrices, amount: Decimal, minimum: Decimal) -> Quote:
    _check_minimum_buy(amount, minimum)
    grams = round_down_4dp(amount / rate.buy_price_with_tax)
    if grams <= ZERO:
        raise BelowMinimum("The amount buys less than 0.0001 g at this rate.")
    return _buy_quote(rate, "amount", grams, amount)


@in_money_context
def buy_by_grams(rate: RatePrices, grams: Decimal, minimum: Decimal) -> Quote:
    total = round_up_2dp(grams * rate.buy_price_with_tax)
    _check_minimum_buy(total, minimum)
    return _buy_quote(rate, "grams", grams, total)


def _sell_quote(rate: RatePrices, quoted_in: QuotedIn, grams: Decimal, payout: Decimal) -> Quote:
    return Quote("sell", quoted_in, grams, rate.sell_price, ZERO, payout, ZERO, payout)


@in_money_context
def sell_by_grams(rate: RatePrices, grams: Decimal) -> Quote:
    payout = round_down_2dp(grams * rate.sell_price)
    if payout <= ZERO:
        raise BelowMinimum("The grams sell for less than 0.01 at this rate.")
    return _sell_quote(rate, "grams", grams, payout)


@in_money_context
def sell_by_amount(rate: RatePrices, amount: Decimal) -> Quote:
    grams = round_up_4dp(amount / rate.sell_price)
    return _sell_quote(rate, "amount", grams, amount)


def _given(value: Decimal | None) -> Decimal:
    assert value is not None  # quote checked that exactly one of amount or grams is given
    return value


@in_money_context
def quote(
    rate: RatePrices,
    side: Side,
    *,
    amount: Decimal | None = None,
    grams: Decimal | None = None,
    minimum_buy: Decimal,
) -> Quote:
    """Exactly one of `amount` or `grams` is given (the HTTP schema enforces it)."""
    if (amount is None) == (grams is None):
        raise ValueError("give exactly one of amount or grams")
    if side == "buy":
        result = (
            buy_by_amount(rate, amount, minimum_buy)
            if amount is not None
            else buy_by_grams(rate, _given(grams), minimum_buy)
        )
    else:
        result = (
            sell_by_amount(rate, amount)
            if amount is not None
            else sell_by_grams(rate, _given(grams))
        )
    if result.total_amount > MAX_TOTAL:
        raise AboveMaximum(f"One trade may total at most {MAX_TOTAL:f}.")
    if result.grams > MAX_GRAMS:
        raise AboveMaximum(
            f"The trade would be {result.grams:f} g; one trade may be at most {MAX_GRAMS:f} g."
        )
    return result
