"""Double-entry postings for a settled trade.

Gold moves between the user's gold account and the platform vault; money
between the user's money account and the platform treasury. Each unit sums to
zero (the database checks that too, at commit).
"""

from __future__ import annotations

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
