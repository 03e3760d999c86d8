"""Rows to JSON: money and grams as fixed-decimal strings, times as ISO 8601."""

from __future__ import annotations

from ..domain.ledger import Reconciliation
from ..domain.money import grams, money
from ..domain.portfolio import Portfolio
from ..domain.rules import effective_status
from ..store.rates import RateBucket
from ..store.transactions import TransactionRow
from ..store.users import UserRow


def user_json(row: UserRow) -> dict:
    return {
        "id": str(row["id"]),
        "external_id": row["external_id"],
        "kyc_status": row["kyc_status"],
        "balance_grams": grams(row["balance_grams"]),
        "created_at": row["created_at"].isoformat(),
    }


def transaction_json(row: TransactionRow) -> dict:
    return {
        "id": str(row["id"]),
        "user_id": str(row["user_id"]),
        "side": row["side"],
        "status": effective_status(row["status"], row["past_expiry"]),
        "quoted_in": row["quoted_in"],
        "rate_id": str(row["rate_id"]),
        "currency": row["currency"],
        "grams": grams(row["grams"]),
        "price_per_gram": money(row["price_per_gram"]),
        "tax_rate": f"{row['tax_rate']:f}",
        "pre_tax_amount": money(row["pre_tax_amount"]),
        "tax_amount": money(row["tax_amount"]),
        "total_amount": money(row["total_amount"]),
        "created_at": row["created_at"].isoformat(),
        "expires_at": row["expires_at"].isoformat(),
        "settled_at": row["settled_at"].isoformat() if row["settled_at"] else None,
    }


def portfolio_json(user_id: str, currency: str, view: Portfolio, rate_id: str | None) -> dict:
    return {
        "user_id": user_id,
        "currency": currency,
        "grams": grams(view.grams),
        "invested_amount": money(view.invested_amount),
        "average_buy_price": money(view.average_buy_price)
        if view.average_buy_price is not None
        else None,
        "current_value": None if view.current_value is None else money(view.current_value),
        "unrealised_pnl": None if view.unrealised_pnl is None else money(view.unrealised_pnl),
        "valued_at_rate_id": rate_id,
    }


def bucket_json(row: RateBucket) -> dict:
    """One bucket of rate history: open, high, low and close of each price."""
    return {
        "start": row["bucket_start"].isoformat(),
        "samples": row["samples"],
        "buy": {
            "open": money(row["buy_open"]),
            "high": money(row["buy_high"]),
            "low": money(row["buy_low"]),
            "close": money(row["buy_close"]),
        },
        "sell": {
            "open": money(row["sell_open"]),
            "high": money(row["sell_high"]),
            "low": money(row["sell_low"]),
            "close": money(row["sell_close"]),
        },
    }


def reconciliation_json(report: Reconciliation) -> dict:
    return {
        "balanced": report.balanced,
        "user_grams": grams(report.user_grams),
        "vault_grams": grams(report.vault_grams),
        "checks": report.checks,
        "money": [
            {"currency": row.currency, "account": row.account, "total": money(row.total)}
            for row in report.money
        ],
    }
