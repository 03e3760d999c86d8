from decimal import Decimal as D
from itertools import islice, pairwise

import pytest

from gold_platform.domain import ledger, portfolio, rules
from gold_platform.domain.errors import (
    InsufficientBalance,
    InvalidTransition,
    KycRequired,
    TransactionExpired,
)
from gold_platform.domain.feed import random_walk


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_settlement_postings_balance_in_each_unit(side):
    postings = ledger.settlement_postings(side, D("1.2345"), D("7629.21"), "INR")
    assert ledger.is_balanced(postings)
    user_gold = next(p for p in postings if p.account == "user_gold")
    assert user_gold.amount == (D("1.2345") if side == "buy" else D("-1.2345"))
    assert {p.unit for p in postings} == {"XAU_G", "INR"}


def test_is_balanced_detects_a_missing_leg():
    postings = ledger.settlement_postings("buy", D("1"), D("10"), "INR")[:-1]
    assert not ledger.is_balanced(postings)


def test_kyc_threshold_is_strictly_more_than():
    rules.check_kyc(D("9.5"), D("0.5"), D("10"), kyc_verified=False)  # exactly at it: fine
    with pytest.raises(KycRequired):
        rules.check_kyc(D("9.5"), D("0.5001"), D("10"), kyc_verified=False)
    rules.check_kyc(D("499"), D("1"), D("10"), kyc_verified=True)


def test_sell_balance():
    rules.check_sell_balance(D("1.0000"), D("1.0000"))
    with pytest.raises(InsufficientBalance):
        rules.check_sell_balance(D("1.0000"), D("1.0001"))


def test_lifecycle_rules():
    assert rules.effective_status("pending", past_expiry=True) == "expired"
    assert rules.effective_status("confirmed", past_expiry=True) == "confirmed"
    assert rules.check_confirmable("pending") is True
    assert rules.check_confirmable("confirmed") is False
    with pytest.raises(TransactionExpired):
        rules.check_confirmable("expired")
    with pytest.raises(InvalidTransition):
        rules.check_confirmable("cancelled")
    assert rules.check_cancellable("cancelled") is False
    with pytest.raises(InvalidTransition):
        rules.check_cancellable("confirmed")


def test_average_cost_basis():
    cost = portfolio.cost_basis_after("buy", D("0"), D("0"), D("1"), D("6180.00"))
    cost = portfolio.cost_basis_after("buy", cost, D("1"), D("1"), D("6300.00"))
    assert cost == D("12480.00")
    # selling a quarter removes a quarter of the cost
    assert portfolio.cost_basis_after("sell", cost, D("2"), D("0.5"), D("0")) == D("9360.00")
    # selling everything clears it exactly
    assert portfolio.cost_basis_after("sell", cost, D("2"), D("2"), D("0")) == D("0")


def test_portfolio_view():
    view = portfolio.portfolio(D("2.0000"), D("12480.00"), D("5800.00"))
    assert view.average_buy_price == D("6240.00")
    assert view.current_value == D("11600.00")
    assert view.unrealised_pnl == D("-880.00")
    unpriced = portfolio.portfolio(D("1"), D("6180.00"), None)
    assert unpriced.current_value is None and unpriced.unrealised_pnl is None
    assert portfolio.portfolio(D("0"), D("0"), D("5800")).average_buy_price is None


def test_random_walk_is_reproducible_and_bounded():
    first = list(islice(random_walk(7), 500))
    assert first == list(islice(random_walk(7), 500))
    assert first != list(islice(random_walk(8), 500))
    for prev, cur in pairwise(first):
        assert D("4000") <= cur.buy_price <= D("9000")
        assert cur.sell_price < cur.buy_price
        assert abs(cur.buy_price - prev.buy_price) <= prev.buy_price * D("0.002") + D("0.01")


def test_reconciliation_is_balanced_only_when_every_check_counts_zero():
    clean = dict.fromkeys(ledger.RECONCILIATION_CHECKS, 0)
    money = [ledger.MoneyTotal("INR", "user_money", D("-10.00"))]
    report = ledger.reconcile(clean, D("1.5"), D("-1.5"), money)
    assert report.balanced is True
    assert list(report.checks) == list(ledger.RECONCILIATION_CHECKS)
    assert report.money == tuple(money)
    for name in ledger.RECONCILIATION_CHECKS:
        assert ledger.reconcile({**clean, name: 1}, D(0), D(0), []).balanced is False
