"""Reconciliation is incremental (migration 0006): the checkpoint sums the entries
up to an id, a reconciliation adds those after it. Whatever side of the
checkpoint a problem is on, reconciliation still finds it; and the checkpoint
never moves past a problem, nor past an entry that may still commit."""

from decimal import Decimal

import psycopg2
import pytest

from tests.api.test_ledger_rules import ledger  # noqa: F401 (the fixture)


def advance(sql, times: int = 3) -> dict:
    """Steps of the checkpoint, each in its own transaction (from nothing, the
    third step covers what existed at the first)."""
    for _ in range(times):
        sql("SELECT ledger_checkpoint_advance(1000000)")
    (row,) = sql(
        "SELECT through_entry, through_seq, held_because, candidate_entry FROM ledger_checkpoint"
    )
    return dict(
        zip(("through_entry", "through_seq", "held_because", "candidate_entry"), row, strict=True)
    )


def newest_entry(sql) -> int:
    return sql("SELECT max(id) FROM ledger_entries")[0][0]


def checks_wrong(report: dict) -> dict:
    return {name: n for name, n in report["checks"].items() if n}


async def test_the_checkpoint_plus_recent_entries_is_the_full_sum(api, ledger, sql):  # noqa: F811
    user2 = await api.user(ledger.partner, "user-2", kyc=True)
    await api.trade(ledger.partner, "buy", user2["id"], ledger.rate_id, amount="250.00")
    before = await api.reconcile()
    cp = advance(sql)
    assert cp["through_entry"] == newest_entry(sql) and cp["held_because"] is None
    # More trades after the checkpoint: the report sums both parts.
    await api.trade(ledger.partner, "sell", ledger.user_id, ledger.rate_id, grams="0.2500")
    await api.trade(ledger.partner, "buy", user2["id"], ledger.rate_id, amount="99.99")
    assert advance(sql, 0)["through_entry"] < newest_entry(sql)
    report = await api.reconcile()
    assert report["balanced"] is True, report
    full = dict(sql("SELECT kind || ':' || unit, sum(balance) FROM account_balances GROUP BY 1"))
    assert Decimal(report["vault_grams"]) == full["vault_gold:XAU_G"]
    treasury = next(m for m in report["money"] if m["account"] == "treasury_money")
    assert Decimal(treasury["total"]) == full["treasury_money:INR"]
    assert report != before
    # Once the checkpoint covers everything, the same answer.
    assert advance(sql)["through_entry"] == newest_entry(sql)
    assert await api.reconcile() == report


@pytest.mark.parametrize("covered", [True, False], ids=["before-checkpoint", "after-checkpoint"])
async def test_a_stored_balance_that_differs_from_the_entries_is_found(
    api,
    ledger,  # noqa: F811
    sql,
    covered,
):
    if covered:
        assert advance(sql)["through_entry"] == newest_entry(sql)
    sql("UPDATE accounts SET balance = balance + 0.0001 WHERE id = %s", (ledger.gold_account,))
    report = await api.reconcile()
    assert report["balanced"] is False
    assert checks_wrong(report) == {"accounts_mismatched": 1}


@pytest.mark.parametrize("covered", [True, False], ids=["before-checkpoint", "after-checkpoint"])
async def test_entries_posted_without_the_stored_balance_are_found(
    api,
    ledger,  # noqa: F811
    sql,
    covered,
):
    # Balanced entries (the database accepts them) that moved 1 g to the user
    # without their stored balance: the entries and the balance disagree.
    tx = await api.verify(ledger.partner, "buy", ledger.user_id, ledger.rate_id, amount="100.00")
    sql(
        "INSERT INTO ledger_entries (transaction_id, account_id, unit, amount) VALUES"
        " (%(tx)s, %(gold)s, 'XAU_G', 1),"
        " (%(tx)s, (SELECT id FROM accounts WHERE kind = 'vault_gold'), 'XAU_G', -1)",
        {"tx": tx["id"], "gold": ledger.gold_account},
    )
    if covered:
        assert advance(sql)["through_entry"] == newest_entry(sql)
    report = await api.reconcile()
    assert checks_wrong(report) == {"accounts_mismatched": 1}
    assert report["vault_grams"] == "-2.0000"  # the entries' sum, not the stored balances'


async def test_an_unbalanced_transaction_is_found_and_holds_the_checkpoint(
    api,
    ledger,  # noqa: F811
    sql,
    database_url,
):
    assert advance(sql)["through_entry"] == newest_entry(sql)
    tx = await api.verify(ledger.partner, "buy", ledger.user_id, ledger.rate_id, amount="100.00")
    # Only with the database's own rules switched off (a superuser, replication
    # role): an entry the balance trigger would refuse.
    conn = psycopg2.connect(database_url)
    with conn, conn.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(
            "INSERT INTO ledger_entries (transaction_id, account_id, unit, amount)"
            " VALUES (%s, (SELECT id FROM accounts WHERE kind = 'vault_gold'), 'XAU_G', -5)",
            (tx["id"],),
        )
    conn.close()
    await api.trade(ledger.partner, "buy", ledger.user_id, ledger.rate_id, amount="100.00")
    expected = {"transactions_unbalanced": 1, "units_unbalanced": 1}
    assert checks_wrong(await api.reconcile()) == expected
    cp = advance(sql)
    assert cp["through_entry"] < newest_entry(sql)
    assert "does not balance" in cp["held_because"]
    assert checks_wrong(await api.reconcile()) == expected  # still found, every time


async def test_a_confirmed_trade_without_entries_is_found_before_and_after_the_checkpoint(
    api,
    ledger,  # noqa: F811
    sql,
):
    tx = await api.verify(ledger.partner, "buy", ledger.user_id, ledger.rate_id, amount="100.00")
    cancelled = await api.verify(
        ledger.partner, "buy", ledger.user_id, ledger.rate_id, amount="100.00"
    )
    cp = advance(sql)
    seq = sql("SELECT seq FROM transactions WHERE id = %s", (tx["id"],))[0][0]
    assert cp["through_seq"] > seq and cp["held_because"] is None
    # Passed while pending, they are on the checkpoint's open list...
    open_list = "SELECT transaction_id::text FROM ledger_checkpoint_open ORDER BY 1"
    assert sql(open_list) == sorted([(tx["id"],), (cancelled["id"],)])
    # ...so one confirmed behind its back (no entries) is still found.
    sql(
        "UPDATE transactions SET status = 'confirmed', settled_at = now() WHERE id = %s",
        (tx["id"],),
    )
    await api.call(
        "POST", f"/v1/transactions/{cancelled['id']}/cancel", headers=ledger.partner.headers
    )
    assert checks_wrong(await api.reconcile()) == {"confirmed_without_entries": 1}
    cp = advance(sql)
    assert "has no entries" in cp["held_because"]
    assert sql(open_list) == [(tx["id"],)]  # the cancelled one is final: it left the list
    assert checks_wrong(await api.reconcile()) == {"confirmed_without_entries": 1}


async def test_the_checkpoint_waits_for_transactions_that_may_still_insert_below_it(
    api,
    ledger,  # noqa: F811
    sql,
    database_url,
):
    assert advance(sql)["through_entry"] == newest_entry(sql)
    # A writer that has begun (and has a transaction id) but not committed...
    writer = psycopg2.connect(database_url)
    cur = writer.cursor()
    cur.execute("SELECT pg_current_xact_id()")
    try:
        # ...while other entries commit after it began.
        await api.trade(ledger.partner, "buy", ledger.user_id, ledger.rate_id, amount="100.00")
        cp = advance(sql)
        assert cp["candidate_entry"] == newest_entry(sql)
        assert cp["through_entry"] < cp["candidate_entry"]  # not while the writer runs
    finally:
        writer.rollback()
        writer.close()
    assert advance(sql, 1)["through_entry"] == newest_entry(sql)
    assert (await api.reconcile())["balanced"] is True
