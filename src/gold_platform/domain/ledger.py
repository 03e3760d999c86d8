"""Double-entry postings for a settled trade.

Gold moves between the user's gold account and the platform vault; money
between the user's money account and the platform treasury. Each unit sums to
zero (the database checks that too, at commit).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from .money import in_money_context
from .pricing import Side

GOLD_UNIT = "XAU_G"


@dataclass(frozen=True, slots=True)
class Posting:
    account: str  # 'user_gold' | 'user_money' | 'vault_gold' | 'treasury_money'
    unit: str
    amount: Decimal


@in_money_context
def settlement_postings(side: Side, grams: Decimal, total: Decimal, currency: str) -> list[Posting]:
    sign = 1 if side == "buy" else -1
    return [
        Posting("user_gold", GOLD_UNIT, sign * grams),
        Posting("vault_gold", GOLD_UNIT, -sign * grams),
        Posting("user_money", currency, -sign * total),
        Posting("treasury_money", currency, sign * total),
    ]


@in_money_context
def is_balanced(postings: list[Posting]) -> bool:
    totals: dict[str, Decimal] = {}
    for p in postings:
        totals[p.unit] = totals.get(p.unit, Decimal(0)) + p.amount
    return all(v == 0 for v in totals.values())


# What reconciliation counts; the ledger is balanced when every count is 0.
RECONCILIATION_CHECKS = (
    "accounts_mismatched",  # a user account whose stored balance differs from its entries
    "units_unbalanced",  # a unit whose entries do not sum to zero
    "transactions_unbalanced",  # a transaction whose entries do not sum to zero per unit
    "confirmed_without_entries",  # a confirmed trade that posted nothing
    "negative_balances",  # a user holding less than 0 g
)


@dataclass(frozen=True, slots=True)
class MoneyTotal:
    currency: str
    account: str  # 'user_money' | 'treasury_money'
    total: Decimal


@dataclass(frozen=True, slots=True)
class Reconciliation:
    balanced: bool
    user_grams: Decimal
    vault_grams: Decimal
    checks: dict[str, int]  # RECONCILIATION_CHECKS, in that order
    money: tuple[MoneyTotal, ...]


def reconcile(
    counts: Mapping[str, int],
    user_grams: Decimal,
    vault_grams: Decimal,
    money: Sequence[MoneyTotal],
) -> Reconciliation:
    """The verdict on one snapshot of the ledger: balanced when nothing is wrong."""
    checks = {name: counts[name] for name in RECONCILIATION_CHECKS}
    return Reconciliation(
        balanced=not any(checks.values()),
        user_grams=user_grams,
        vault_grams=vault_grams,
        checks=checks,
        money=tuple(money),
    )
