import threading

import psycopg2
import pytest

from gold_platform import migrations
from gold_platform.settings import REPO_MIGRATIONS_DIR

MIGRATIONS_DIR = REPO_MIGRATIONS_DIR


def tables(url: str) -> set[str]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        names = {row[0] for row in cur.fetchall()}
    conn.close()
    return {n for n in names if not n.startswith("_yoyo") and n != "yoyo_lock"}


def test_up_to_head_then_all_the_way_down(empty_database_url):
    applied = migrations.apply(empty_database_url, MIGRATIONS_DIR)
    assert applied[-1] == migrations.head_id(MIGRATIONS_DIR)
    assert {"partners", "rates", "users", "accounts", "transactions", "ledger_entries"} <= tables(
        empty_database_url
    )
    assert migrations.apply(empty_database_url, MIGRATIONS_DIR) == []

    rolled_back = migrations.rollback(empty_database_url, MIGRATIONS_DIR, count=len(applied))
    assert rolled_back == list(reversed(applied))
    assert tables(empty_database_url) == set()

    # and up again: every rollback really undoes its migration
    assert migrations.apply(empty_database_url, MIGRATIONS_DIR) == applied


def test_concurrent_migrators_apply_each_migration_once(empty_database_url):
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run():
        try:
            results.append(migrations.apply(empty_database_url, MIGRATIONS_DIR))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    applied = [m for r in results for m in r]
    assert sorted(applied) == sorted(set(applied))
    assert len(applied) == len(
        [p for p in MIGRATIONS_DIR.glob("*.sql") if not p.name.endswith(".rollback.sql")]
    )


def test_ledger_trigger_rejects_unbalanced_entries(database_url):
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO partners (name, key_id, key_hash) VALUES ('p', 'k', %s) RETURNING id",
            (b"\0" * 32,),
        )
        partner = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO rates (currency, buy_price, sell_price, tax_rate, source, valid_until)"
            " VALUES ('INR', 100, 90, 0.03, 'test', now() + interval '5 min') RETURNING id"
        )
        rate = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO users (partner_id, external_id) VALUES (%s, 'u') RETURNING id", (partner,)
        )
        user = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO accounts (kind, user_id, unit) VALUES ('user_gold', %s, 'XAU_G')"
            " RETURNING id",
            (user,),
        )
        account = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO transactions (partner_id, user_id, rate_id, side, quoted_in, currency,"
            " grams, price_per_gram, tax_rate, pre_tax_amount, tax_amount, total_amount,"
            " expires_at) VALUES (%s, %s, %s, 'buy', 'grams', 'INR', 1, 103, 0.03, 100, 3, 103,"
            " now()) RETURNING id",
            (partner, user, rate),
        )
        tx = cur.fetchone()[0]
        conn.commit()
        cur.execute(
            "INSERT INTO ledger_entries (transaction_id, account_id, unit, amount)"
            " VALUES (%s, %s, 'XAU_G', 1)",
            (tx, account),
        )
        with pytest.raises(psycopg2.errors.CheckViolation, match="do not balance"):
            conn.commit()
    conn.close()


def test_user_gold_can_never_go_negative_in_the_database(database_url):
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO partners (name, key_id, key_hash) VALUES ('p', 'k', %s) RETURNING id",
            (b"\0" * 32,),
        )
        cur.execute(
            "INSERT INTO users (partner_id, external_id) VALUES (%s, 'u') RETURNING id",
            (cur.fetchone()[0],),
        )
        cur.execute(
            "INSERT INTO accounts (kind, user_id, unit) VALUES ('user_gold', %s, 'XAU_G')",
            (cur.fetchone()[0],),
        )
        with pytest.raises(psycopg2.errors.CheckViolation, match="user_gold_never_negative"):
            cur.execute("UPDATE accounts SET balance = balance - 0.0001")
    conn.close()
