"""Holding and lifecycle rules: KYC threshold, balances, currency, transaction states."""

from __future__ import annotations

from decimal import Decimal

from .errors import (
    AboveMaximum,
    CurrencyMismatch,
    InsufficientBalance,
    InvalidTransition,
    KycRequired,
    TransactionExpired,
)
from .money import MAX_GRAMS, MAX_MONEY, in_money_context


@in_money_context
def check_kyc(held: Decimal, bought: Decimal, threshold: Decimal, kyc_verified: bool) -> None:
    """A user who would hold more than the threshold must be KYC-verified."""
    if held + bought > threshold and not kyc_verified:
        raise KycRequired(
            f"Holding more than {threshold:f} g requires KYC verification; "
            "attest KYC for this user first."
        )


@in_money_context
def check_holding_limits(held: Decimal, bought: Decimal, cost_after: Decimal) -> None:
    """After a buy, the holding and what was invested in it are figures the API
    can show (MAX_GRAMS, MAX_MONEY); sells only lower both."""
    if held + bought > MAX_GRAMS:
        raise AboveMaximum(
            f"The user holds {held:f} g; one holding may be at most {MAX_GRAMS:f} g."
        )
    if cost_after > MAX_MONEY:
        raise AboveMaximum(f"The amount invested in one holding may be at most {MAX_MONEY:f}.")


def check_sell_balance(balance: Decimal, grams: Decimal) -> None:
    if grams > balance:
        raise InsufficientBalance(f"The user holds {balance:f} g; cannot sell {grams:f} g.")


def check_currency(account_currency: str, trade_currency: str) -> None:
    """A user trades in the one currency their money account (and cost basis) is in."""
    if account_currency != trade_currency:
        raise CurrencyMismatch(
            f"The user's money account is in {account_currency} and this platform trades"
            f" {trade_currency}; a user trades only in the currency their account was opened in."
        )


def effective_status(status: str, past_expiry: bool) -> str:
    """A pending transaction past its expiry is expired, whether or not it was swept yet."""
    if status == "pending" and past_expiry:
        return "expired"
    return status


def check_confirmable(status: str) -> bool:
    """True when confirm must settle now; False when it is already confirmed (a replay)."""
    if status == "confirmed":
        return False
    if status == "expired":
        raise TransactionExpired("The transaction expired before it was confirmed; verify again.")
    if status != "pending":
        raise InvalidTransition(f"A {status} transaction cannot be confirmed.")
    return True


def check_cancellable(status: str) -> bool:
    """True when cancel must act now; False when it is already cancelled (a replay)."""
    if status == "cancelled":
        return False
    if status != "pending":
        raise InvalidTransition(f"A {status} transaction cannot be cancelled.")
    return True
