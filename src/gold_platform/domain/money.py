"""Exact units: money has 2 decimals, grams 4, and rounding is always explicit.

Every computation on money or grams runs in MONEY_CONTEXT, never in the
caller's decimal context (which any code in the process may change): the
domain's entry points are decorated with `in_money_context`, and the rounding
helpers pass the context to `quantize` themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import ParamSpec, TypeVar

# 40 significant digits hold the exact product of any two stored quantities
# (numeric(20,4) x numeric(18,4) has at most 38), so a product is never
# rounded before the explicit rounding step; a quotient is rounded at its 40th
# digit, far below the 4th decimal it is then rounded to. Its own rounding
# mode is therefore never what decides a figure.
MONEY_CONTEXT = Context(
    prec=40, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)
# The largest figures the API shows for one price, trade or holding (its JSON
# patterns allow 12 and 9 integer digits); rules refuse what would exceed them.
MAX_MONEY = Decimal("999999999999.99")
MAX_GRAMS = Decimal("999999999.9999")
MONEY_STEP = Decimal("0.01")
GRAMS_STEP = Decimal("0.0001")
ONE = Decimal(1)
ZERO = Decimal(0)

P = ParamSpec("P")
R = TypeVar("R")


def in_money_context(function: Callable[P, R]) -> Callable[P, R]:
    """Runs `function` with MONEY_CONTEXT as the decimal context, whatever the caller's is."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(MONEY_CONTEXT):
            return function(*args, **kwargs)

    return run


def _quantize(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return value.quantize(step, rounding=rounding, context=MONEY_CONTEXT)


def round_up_2dp(value: Decimal) -> Decimal:
    return _quantize(value, MONEY_STEP, ROUND_CEILING)


def round_down_2dp(value: Decimal) -> Decimal:
    return _quantize(value, MONEY_STEP, ROUND_FLOOR)


def round_half_up_2dp(value: Decimal) -> Decimal:
    return _quantize(value, MONEY_STEP, ROUND_HALF_UP)


def round_up_4dp(value: Decimal) -> Decimal:
    return _quantize(value, GRAMS_STEP, ROUND_CEILING)


def round_down_4dp(value: Decimal) -> Decimal:
    return _quantize(value, GRAMS_STEP, ROUND_FLOOR)


def money(value: Decimal) -> str:
    """The JSON form of an amount: always two decimals, never exponent notation.
    Stored amounts already have two decimals, so the rounding mode never applies."""
    return f"{_quantize(value, MONEY_STEP, ROUND_HALF_EVEN):f}"


def grams(value: Decimal) -> str:
    return f"{_quantize(value, GRAMS_STEP, ROUND_HALF_EVEN):f}"
