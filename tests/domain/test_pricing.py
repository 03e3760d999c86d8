"""The rounding table of the product rules, including edge values."""

from decimal import ROUND_DOWN, getcontext, localcontext
from decimal import Decimal as D

import pytest

from gold_platform.domain import pricing
from gold_platform.domain.errors import BelowMinimum, InvalidField

RATE = pricing.RatePrices(buy_price=D("6000.00"), sell_price=D("5800.00"), tax_rate=D("0.03"))
MIN = D("10.00")


def test_buy_price_with_tax_rounds_up():
    assert RATE.buy_price_with_tax == D("6180.00")
    odd = pricing.RatePrices(D("6123.45"), D("6000.00"), D("0.03"))
    # 6123.45 * 1.03 = 6307.1535 -> 6307.16 (up, never down)
    assert odd.buy_price_with_tax == D("6307.16")


@pytest.mark.parametrize(
    ("amount", "grams"),
    [
        ("1000.00", "0.1618"),  # 0.161812... -> down
        ("6180.00", "1.0000"),  # exact
        ("6179.99", "0.9999"),  # a cent short of a gram -> down
        ("10.00", "0.0016"),  # the minimum buy
        ("100000000.00", "16181.2297"),
    ],
)
def test_buy_by_amount_rounds_grams_down(amount, grams):
    quote = pricing.buy_by_amount(RATE, D(amount), MIN)
    assert quote.grams == D(grams)
    assert quote.total_amount == D(amount)
    assert quote.pre_tax_amount + quote.tax_amount == quote.total_amount
    # the user never gets more gold than they paid for
    assert quote.grams * RATE.buy_price_with_tax <= quote.total_amount


@pytest.mark.parametrize(
    ("grams", "total"),
    [
        ("1.0000", "6180.00"),
        ("0.0017", "10.51"),  # 10.506 -> up
        ("0.1234", "762.62"),  # 762.612 -> up
        ("2.5000", "15450.00"),
    ],
)
def test_buy_by_grams_rounds_total_up(grams, total):
    quote = pricing.buy_by_grams(RATE, D(grams), MIN)
    assert quote.total_amount == D(total)
    assert quote.total_amount >= D(grams) * RATE.buy_price_with_tax


@pytest.mark.parametrize(
    ("grams", "payout"),
    [
        ("1.0000", "5800.00"),
        ("0.0001", "0.58"),
        ("0.1234", "715.72"),  # 715.72 exact
        ("0.3333", "1933.14"),  # 1933.14 exact
    ],
)
def test_sell_by_grams_rounds_payout_down(grams, payout):
    quote = pricing.sell_by_grams(RATE, D(grams))
    assert quote.total_amount == D(payout)
    assert quote.total_amount <= D(grams) * RATE.sell_price
    assert quote.tax_amount == 0


def test_sell_by_grams_payout_rounding_is_down_not_half():
    rate = pricing.RatePrices(D("6000.00"), D("5799.99"), D("0.03"))
    # 0.0001 * 5799.99 = 0.579999 -> 0.57 (down, although half-up would say 0.58)
    assert pricing.sell_by_grams(rate, D("0.0001")).total_amount == D("0.57")


@pytest.mark.parametrize(
    ("amount", "grams"),
    [
        ("5800.00", "1.0000"),
        ("1000.00", "0.1725"),  # 0.172413... -> up
        ("0.01", "0.0001"),  # smallest payout needs a whole 0.0001 g
        ("580.01", "0.1001"),  # 0.100001... -> up
    ],
)
def test_sell_by_amount_rounds_grams_up(amount, grams):
    quote = pricing.sell_by_amount(RATE, D(amount))
    assert quote.grams == D(grams)
    assert quote.total_amount == D(amount)
    assert quote.grams * RATE.sell_price >= quote.total_amount


def test_minimum_buy_applies_to_both_buy_modes():
    with pytest.raises(BelowMinimum):
        pricing.buy_by_amount(RATE, D("9.99"), MIN)
    with pytest.raises(BelowMinimum):
        pricing.buy_by_grams(RATE, D("0.0016"), MIN)  # 9.8880 -> 9.89 < 10.00
    assert pricing.buy_by_grams(RATE, D("0.0017"), MIN).total_amount == D("10.51")


def test_an_amount_too_small_for_one_step_of_gold_is_refused():
    pricey = pricing.RatePrices(D("900000.00"), D("890000.00"), D("0.03"))
    with pytest.raises(BelowMinimum):
        pricing.buy_by_amount(pricey, D("10.00"), MIN)  # 10 / 927000 < 0.0001


def test_selling_dust_that_pays_nothing_is_refused():
    cheap = pricing.RatePrices(D("60.00"), D("50.00"), D("0.03"))
    with pytest.raises(BelowMinimum):
        pricing.sell_by_grams(cheap, D("0.0001"))  # 0.005 -> 0.00


def test_tax_split_adds_up_and_rounds_tax_in_favour_of_collection():
    quote = pricing.buy_by_amount(RATE, D("1000.00"), MIN)
    # 1000 / 1.03 = 970.8737.. -> pre-tax 970.87, tax 29.13
    assert (quote.pre_tax_amount, quote.tax_amount) == (D("970.87"), D("29.13"))


def test_zero_tax_rate():
    rate = pricing.RatePrices(D("6000.00"), D("5800.00"), D("0"))
    quote = pricing.buy_by_grams(rate, D("1.0000"), MIN)
    assert (quote.total_amount, quote.tax_amount) == (D("6000.00"), D("0.00"))


def test_quote_dispatches_on_side_and_quantity():
    assert pricing.quote(RATE, "buy", amount=D("100.00"), minimum_buy=MIN).quoted_in == "amount"
    assert pricing.quote(RATE, "sell", grams=D("1"), minimum_buy=MIN).side == "sell"


def test_the_callers_decimal_context_never_changes_a_price_or_its_tax():
    with localcontext():  # restores the thread's context afterwards
        hostile = getcontext()
        hostile.prec, hostile.rounding = 3, ROUND_DOWN
        assert D("1000.00") / D("1.03") == D("970")  # what unpinned arithmetic would do
        assert RATE.buy_price_with_tax == D("6180.00")
        by_amount = pricing.quote(RATE, "buy", amount=D("1000.00"), minimum_buy=MIN)
        by_grams = pricing.quote(RATE, "buy", grams=D("0.1234"), minimum_buy=MIN)
        sell = pricing.quote(RATE, "sell", grams=D("0.1234"), minimum_buy=MIN)
    assert (by_amount.grams, by_amount.pre_tax_amount, by_amount.tax_amount) == (
        D("0.1618"),
        D("970.87"),
        D("29.13"),
    )
    assert (by_grams.total_amount, by_grams.pre_tax_amount, by_grams.tax_amount) == (
        D("762.62"),
        D("740.40"),
        D("22.22"),
    )
    assert sell.total_amount == D("715.72")


@pytest.mark.parametrize(
    ("buy", "sell", "tax", "field"),
    [
        ("0", "0", "0.03", "buy_price|sell_price"),
        ("100.00", "-1.00", "0.03", "buy_price|sell_price"),
        ("100.00", "100.01", "0.03", "sell_price"),
        ("100.00", "90.00", "1", "tax_rate"),
        ("100.00", "90.00", "-0.01", "tax_rate"),
    ],
)
def test_a_rate_that_breaks_a_price_rule_is_not_publishable(buy, sell, tax, field):
    with pytest.raises(InvalidField) as refused:
        pricing.check_publishable(pricing.RatePrices(D(buy), D(sell), D(tax)))
    assert refused.value.field == field


def test_a_rate_within_the_rules_is_publishable():
    pricing.check_publishable(pricing.RatePrices(D("6000.00"), D("6000.00"), D("0")))
