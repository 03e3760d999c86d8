"""Verify, confirm and cancel trades; create users and attest KYC."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, cast

from ..db import DictCursor
from ..domain import ledger, portfolio, pricing, rules
from ..domain.errors import NotFound, RateExpired, RateNotFound
from ..settings import Settings
from ..store import rates, reads, transactions, users
from ..store.rates import LockableRateRow
from ..store.reads import Read, fetch_reads
from ..store.transactions import TransactionRow
from ..store.users import HoldingRow, UserRow

# The rows a use case starts from, by Read name (None: not found). The
# idempotency claim fetches them in its own round trip (run_once_reading);
# without them, the use case fetches them itself, in one statement.
Found = Mapping[str, Mapping[str, Any] | None]


def verify_reads(partner_id: str, user_id: str, rate_id: str) -> tuple[Read, ...]:
    """What `verify` reads before it decides: the user and the rate."""
    return (users.read(partner_id, user_id), rates.read(rate_id))


def confirm_reads(partner_id: str, transaction_id: str) -> tuple[Read, ...]:
    """What `confirm` reads before it decides: the transaction, then its user's
    holding, locked (users.lock_holding) in the same statement."""
    return (
        transactions.read(partner_id, transaction_id),
        users.lock_holding_read(partner_id, reads.column("trade", "user_id")),
    )


def cancel_reads(partner_id: str, transaction_id: str) -> tuple[Read, ...]:
    """What `cancel` reads before it decides: the transaction."""
    return (transactions.read(partner_id, transaction_id),)


async def verify(
    cur: DictCursor,
    settings: Settings,
    partner_id: str,
    side: pricing.Side,
    user_id: str,
    rate_id: str,
    amount: Decimal | None,
    grams: Decimal | None,
    found: Found | None = None,
) -> TransactionRow:
    """Prices a trade at a locked rate and records it as pending, every figure fixed.
    `found`: the rows of `verify_reads`, when the caller has fetched them."""
    if found is None:
        found = await fetch_reads(cur, verify_reads(partner_id, user_id, rate_id))
    user = cast("UserRow | None", found["user"])
    if user is None:
        raise NotFound("The user does not exist.")
    rules.check_currency(user["currency"], settings.currency)
    rate = cast("LockableRateRow | None", found["rate"])
    if rate is None or rate["currency"] != settings.currency:
        raise RateNotFound("The rate_id is unknown.")
    if not rate["valid"]:
        raise RateExpired("The rate has expired; fetch the current rate and verify again.")
    prices = pricing.RatePrices(rate["buy_price"], rate["sell_price"], rate["tax_rate"])
    quote = pricing.quote(
        prices, side, amount=amount, grams=grams, minimum_buy=settings.min_buy_amount
    )
    # Early, friendly refusals; confirm re-checks both under a row lock.
    if side == "sell":
        rules.check_sell_balance(user["balance_grams"], quote.grams)
    else:
        rules.check_holding_limits(
            user["balance_grams"],
            quote.grams,
            portfolio.cost_basis_after(
                side, user["cost_basis"], user["balance_grams"], quote.grams, quote.total_amount
            ),
        )
        rules.check_kyc(
            user["balance_grams"],
            quote.grams,
            settings.kyc_threshold_grams,
            user["kyc_status"] == "verified",
        )
    return await transactions.create_pending(
        cur, partner_id, user_id, rate_id, settings.currency, quote, settings.trade_expiry_seconds
    )


async def confirm(
    cur: DictCursor,
    settings: Settings,
    partner_id: str,
    transaction_id: str,
    found: Found | None = None,
) -> tuple[TransactionRow, bool]:
    """Settles a pending trade. Returns (transaction, settled_now); confirming a
    confirmed trade returns it unchanged. `found`: the rows of `confirm_reads`.

    The holding is locked when it is read, before the checks: the same order
    as every confirm (the key, then the account), so locks never cross."""
    if found is None:
        found = await fetch_reads(cur, confirm_reads(partner_id, transaction_id))
    tx = cast("TransactionRow | None", found["trade"])
    if tx is None:
        raise NotFound("The transaction does not exist.")
    if not rules.check_confirmable(rules.effective_status(tx["status"], tx["past_expiry"])):
        return tx, False
    holding = cast("HoldingRow | None", found["holding"])
    if holding is None:  # a trade's user is never deleted (foreign keys)
        raise NotFound("The user does not exist.")
    side, grams, total = tx["side"], tx["grams"], tx["total_amount"]
    cost_after = portfolio.cost_basis_after(
        side, holding["cost_basis"], holding["balance"], grams, total
    )
    if side == "sell":
        rules.check_sell_balance(holding["balance"], grams)
    else:
        rules.check_holding_limits(holding["balance"], grams, cost_after)
        rules.check_kyc(
            holding["balance"],
            grams,
            settings.kyc_threshold_grams,
            holding["kyc_status"] == "verified",
        )
    postings = ledger.settlement_postings(side, grams, total, tx["currency"])
    if not ledger.is_balanced(postings):  # the database would refuse it at commit anyway
        raise AssertionError(f"unbalanced postings for {transaction_id}")
    settled = await transactions.settle(
        cur,
        transaction_id,
        {"user_gold": holding["gold_account_id"], "user_money": holding["money_account_id"]},
        postings,
        cost_basis=cost_after,
    )
    if settled is None:
        # It left 'pending' (or expired) after we read it, so nothing changed:
        # answer from its state now. That state is final (the database keeps it
        # so) or expired, so this second pass replays or refuses; it never settles.
        return await confirm(cur, settings, partner_id, transaction_id)
    return settled, True


async def cancel(
    cur: DictCursor, partner_id: str, transaction_id: str, found: Found | None = None
) -> tuple[TransactionRow, bool]:
    """Returns (transaction, cancelled_now); cancelling twice returns it unchanged.
    `found`: the rows of `cancel_reads`."""
    if found is None:
        found = await fetch_reads(cur, cancel_reads(partner_id, transaction_id))
    tx = cast("TransactionRow | None", found["trade"])
    if tx is None:
        raise NotFound("The transaction does not exist.")
    if not rules.check_cancellable(rules.effective_status(tx["status"], tx["past_expiry"])):
        return tx, False
    cancelled = await transactions.cancel(cur, transaction_id)
    if cancelled is None:  # as in confirm: answer from the state it has now
        return await cancel(cur, partner_id, transaction_id)
    return cancelled, True


async def attest_kyc(cur: DictCursor, partner_id: str, user_id: str) -> UserRow:
    user = await users.verify_kyc(cur, partner_id, user_id)
    if user is None:
        raise NotFound("The user does not exist.")
    return user
