"""The database itself refuses what would break the ledger (migration 0004):
each rule is broken here with plain SQL, as any code or person with a
connection could, after the service has written real trades."""

from dataclasses import dataclass
from decimal import Decimal

import pytest
from psycopg2 import errors

from tests.api.conftest import Api, Partner


@dataclass
class Ledger:
    """A partner, one KYC-verified user with a settled buy, and the ids behind them."""

    partner: Partner
    rate_id: str
    user_id: str
    transaction_id: str
    gold_account: str
    money_account: str


@pytest.fixture
async def ledger(api: Api, partner, rate, sql) -> Ledger:
    user = await api.user(partner, kyc=True)
    tx = await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="1.0000")
    accounts = dict(sql("SELECT kind, id::text FROM accounts WHERE user_id = %s", (user["id"],)))
    return Ledger(
        partner,
        rate["rate_id"],
        user["id"],
        tx["id"],
        accounts["user_gold"],
        accounts["user_money"],
    )


async def pending_buy(api: Api, ledger: Ledger) -> str:
    tx = await api.verify(ledger.partner, "buy", ledger.user_id, ledger.rate_id, amount="100.00")
    return tx["id"]


async def test_an_entry_in_another_unit_than_its_account_is_refused(api, ledger, sql):
    # The reported bug: a trade in USD posted onto a user's INR money account
    # (and the USD treasury), balanced in each unit, so nothing else objected.
    tx_id = await pending_buy(api, ledger)
    sql("INSERT INTO accounts (kind, unit) VALUES ('treasury_money', 'USD')")
    with pytest.raises(errors.ForeignKeyViolation) as refused:
        sql(
            "INSERT INTO ledger_entries (transaction_id, account_id, unit, amount) VALUES"
            " (%(tx)s, %(inr_account)s, 'USD', -100),"
            " (%(tx)s, (SELECT id FROM accounts WHERE kind = 'treasury_money' AND unit = 'USD'),"
            "  'USD', 100)",
            {"tx": tx_id, "inr_account": ledger.money_account},
        )
    assert refused.value.diag.constraint_name == "ledger_entries_unit_is_account_unit"


def test_a_second_entry_for_the_same_transaction_and_account_is_refused(ledger, sql):
    with pytest.raises(errors.UniqueViolation) as refused:
        sql(
            "INSERT INTO ledger_entries (transaction_id, account_id, unit, amount) VALUES"
            " (%(tx)s, %(gold)s, 'XAU_G', 1),"
            " (%(tx)s, (SELECT id FROM accounts WHERE kind = 'vault_gold'), 'XAU_G', -1)",
            {"tx": ledger.transaction_id, "gold": ledger.gold_account},
        )
    assert refused.value.diag.constraint_name == "ledger_entries_one_per_transaction_account"


async def test_a_transaction_for_another_partners_user_is_refused(api, ledger, sql):
    rival = await api.partner("rival")
    with pytest.raises(errors.ForeignKeyViolation) as refused:
        sql(
            "INSERT INTO transactions (partner_id, user_id, rate_id, side, quoted_in, currency,"
            " grams, price_per_gram, tax_rate, pre_tax_amount, tax_amount, total_amount,"
            " expires_at) VALUES (%s, %s, %s, 'buy', 'grams', 'INR', 1, 6000, 0.03, 6000, 180,"
            " 6180, now() + interval '10 min')",
            (rival.id, ledger.user_id, ledger.rate_id),
        )
    assert refused.value.diag.constraint_name == "transactions_user_of_partner"


async def test_a_transaction_in_a_final_state_never_changes(api, ledger, sql):
    cancelled = await pending_buy(api, ledger)
    sql("UPDATE transactions SET status = 'cancelled' WHERE id = %s", (cancelled,))
    expired = await pending_buy(api, ledger)
    sql("UPDATE transactions SET status = 'expired' WHERE id = %s", (expired,))  # pending may
    for tx_id, change in [
        (ledger.transaction_id, "status = 'pending', settled_at = NULL"),
        (ledger.transaction_id, "status = 'cancelled', settled_at = NULL"),
        (ledger.transaction_id, "settled_at = now() - interval '1 day'"),
        (cancelled, "status = 'pending'"),
        (cancelled, "status = 'confirmed', settled_at = now()"),
        (expired, "status = 'pending', expires_at = now() + interval '1 hour'"),
    ]:
        with pytest.raises(errors.CheckViolation, match="a final state: it never changes"):
            sql(f"UPDATE transactions SET {change} WHERE id = %s", (tx_id,))  # noqa: S608 (fixed)
    assert sql("SELECT status, count(*) FROM transactions GROUP BY status ORDER BY status") == [
        ("cancelled", 1),
        ("confirmed", 1),
        ("expired", 1),
    ]


async def test_the_figures_of_a_transaction_never_change(api, ledger, sql):
    pending = await pending_buy(api, ledger)
    sql(
        "UPDATE transactions SET expires_at = expires_at + interval '1 s' WHERE id = %s", (pending,)
    )
    for change in [
        "grams = grams * 2",
        "price_per_gram = 1",
        "pre_tax_amount = pre_tax_amount - 1, total_amount = total_amount - 1",
        "side = 'sell'",
        "currency = 'USD'",
        "user_id = gen_random_uuid()",
    ]:
        with pytest.raises(errors.InsufficientPrivilege, match="were fixed at verify"):
            sql(f"UPDATE transactions SET {change} WHERE id = %s", (pending,))  # noqa: S608 (fixed)
    assert sql("SELECT total_amount FROM transactions WHERE id = %s", (pending,)) == [
        (Decimal("100.00"),)
    ]


async def test_only_user_accounts_store_a_balance(api, ledger, sql):
    for statement in [
        "INSERT INTO accounts (kind, unit, balance) VALUES ('treasury_money', 'EUR', 0)",
        "UPDATE accounts SET balance = 0 WHERE kind = 'vault_gold'",
        "UPDATE accounts SET balance = NULL WHERE kind = 'user_money'",
    ]:
        with pytest.raises(errors.CheckViolation) as refused:
            sql(statement)
        assert refused.value.diag.constraint_name == "accounts_balance_on_user_accounts_only"
    assert sql("SELECT kind, balance FROM accounts WHERE user_id IS NULL ORDER BY kind") == [
        ("treasury_money", None),
        ("vault_gold", None),
    ]
    # Their balance is what their entries sum to, and that is what the operator sees.
    assert sql(
        "SELECT kind, balance FROM account_balances WHERE user_id IS NULL ORDER BY kind"
    ) == [("treasury_money", Decimal("6180.0000")), ("vault_gold", Decimal("-1.0000"))]
    report = await api.reconcile()
    assert report["vault_grams"] == "-1.0000"
    assert {"currency": "INR", "account": "treasury_money", "total": "6180.00"} in report["money"]
    assert report["balanced"] is True, report
