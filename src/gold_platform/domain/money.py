"""Exact units: money has 2 decimals, grams 4, and rounding is always explicit."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

MONEY_STEP = Decimal("0.01")
GRAMS_STEP = Decimal("0.0001")
ONE = Decimal(1)
ZERO = Decimal(0)


def round_up_2dp(value: Decimal) -> Decimal:
    return value.quantize(MONEY_STEP, rounding=ROUND_CEILING)


def round_down_2dp(value: Decimal) -> Decimal:
    return value.quantize(MONEY_STEP, rounding=ROUND_FLOOR)


def round_half_up_2dp(value: Decimal) -> Decimal:
    return value.quantize(MONEY_STEP, rounding=ROUND_HALF_UP)


def round_up_4dp(value: Decimal) -> Decimal:
    return value.quantize(GRAMS_STEP, rounding=ROUND_CEILING)


def round_down_4dp(value: Decimal) -> Decimal:
    return value.quantize(GRAMS_STEP, rounding=ROUND_FLOOR)


def money(value: Decimal) -> str:
    """The JSON form of an amount: always two decimals, never exponent notation."""
    return f"{value.quantize(MONEY_STEP):f}"


def grams(value: Decimal) -> str:
    return f"{value.quantize(GRAMS_STEP):f}"
