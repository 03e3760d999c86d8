"""Pricing against exact rational arithmetic (fractions.Fraction): for any
rate and order in range, every figure is the exactly rounded value of the
rule, and rounding never favours the user over the platform."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from gold_platform.domain import pricing
from gold_platform.domain.errors import BelowMinimum

CENT, GRAM_STEP = Fraction(1, 100), Fraction(1, 10_000)


def decimals(low: str, high: str, places: int):
    return st.decimals(
        min_value=Decimal(low), max_value=Decimal(high), places=places, allow_nan=False
    )


rates = st.builds(
    pricing.RatePrices,
    buy_price=decimals("0.01", "99999999.99", 2),
    sell_price=decimals("0.01", "99999999.99", 2),
    tax_rate=decimals("0", "0.5000", 4),
)
amounts = decimals("0.01", "999999999.99", 2)
grams = decimals("0.0001", "99999.9999", 4)


def floor_to(value: Fraction, step: Fraction) -> Fraction:
    return math.floor(value / step) * step


def ceil_to(value: Fraction, step: Fraction) -> Fraction:
    return math.ceil(value / step) * step


def exact_buy_price_with_tax(rate: pricing.RatePrices) -> Fraction:
    return ceil_to(Fraction(rate.buy_price) * (1 + Fraction(rate.tax_rate)), CENT)


@settings(max_examples=400, deadline=None)
@given(rate=rates, amount=amounts)
def test_buy_by_amount_gives_the_most_whole_grams_the_amount_pays_for(rate, amount):
    price = exact_buy_price_with_tax(rate)
    assert Fraction(rate.buy_price_with_tax) == price
    try:
        quote = pricing.buy_by_amount(rate, amount, minimum=Decimal("0.01"))
    except BelowMinimum:
        assert Fraction(amount) / price < GRAM_STEP
        return
    assert Fraction(quote.grams) == floor_to(Fraction(amount) / price, GRAM_STEP)
    assert Fraction(quote.grams) * price <= Fraction(amount)  # never more gold than paid for
    assert quote.total_amount == amount
    assert quote.pre_tax_amount + quote.tax_amount == quote.total_amount
    assert Fraction(quote.pre_tax_amount) == floor_to(
        Fraction(amount) / (1 + Fraction(rate.tax_rate)), CENT
    )


@settings(max_examples=400, deadline=None)
@given(rate=rates, weight=grams)
def test_buy_by_grams_charges_the_price_rounded_up_to_the_cent(rate, weight):
    price = exact_buy_price_with_tax(rate)
    try:
        quote = pricing.buy_by_grams(rate, weight, minimum=Decimal("0.01"))
    except BelowMinimum:
        raise AssertionError("every weight in range costs at least a cent") from None
    assert Fraction(quote.total_amount) == ceil_to(Fraction(weight) * price, CENT)
    assert Fraction(quote.total_amount) >= Fraction(weight) * price
    assert quote.pre_tax_amount + quote.tax_amount == quote.total_amount
    assert quote.tax_amount >= 0


@settings(max_examples=400, deadline=None)
@given(rate=rates, weight=grams)
def test_sell_by_grams_pays_the_value_rounded_down_to_the_cent(rate, weight):
    value = Fraction(weight) * Fraction(rate.sell_price)
    try:
        quote = pricing.sell_by_grams(rate, weight)
    except BelowMinimum:
        assert value < CENT
        return
    assert Fraction(quote.total_amount) == floor_to(value, CENT)
    assert Fraction(quote.total_amount) <= value
    assert quote.tax_amount == 0


@settings(max_examples=400, deadline=None)
@given(rate=rates, amount=amounts)
def test_sell_by_amount_takes_the_grams_rounded_up(rate, amount):
    quote = pricing.sell_by_amount(rate, amount)
    needed = Fraction(amount) / Fraction(rate.sell_price)
    assert Fraction(quote.grams) == ceil_to(needed, GRAM_STEP)
    assert Fraction(quote.grams) * Fraction(rate.sell_price) >= Fraction(amount)
    assert quote.total_amount == amount
