import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import make_dsn, parse_dsn

from gold_devtools.devstack import free_port
from gold_platform import migrations
from gold_platform.settings import REPO_MIGRATIONS_DIR
from tests.api.conftest import Api, Partner
from tests.conftest import database_url_for

MIGRATIONS_DIR = REPO_MIGRATIONS_DIR
LEDGER_MIGRATION = "0004.database-enforces-the-ledger"


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


def migrations_up_to(last: str, folder: Path) -> Path:
    """`folder`, holding links to the migrations up to `last` (e.g. "0003") and their rollbacks."""
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if path.name.split(".", 1)[0] <= last:
            (folder / path.name).symlink_to(path)
    return folder


_CATALOG = {
    "relations": "SELECT relname, relkind::text FROM pg_class"
    " WHERE relnamespace = 'public'::regnamespace",
    "columns": """
        SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
               a.attnotnull, a.attidentity::text, pg_get_expr(d.adbin, d.adrelid)
          FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v')
           AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid),"
    " convalidated, condeferrable, condeferred FROM pg_constraint"
    " WHERE connamespace = 'public'::regnamespace",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "triggers": "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid), tgenabled::text"
    " FROM pg_trigger WHERE NOT tgisinternal",
    "functions": "SELECT proname, pg_get_functiondef(oid) FROM pg_proc"
    " WHERE pronamespace = 'public'::regnamespace",
    "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'",
}


def schema(url: str) -> dict[str, list[tuple]]:
    """Everything a migration may change, read from the catalogs (yoyo's own tables left out)."""
    snapshot = {}
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        for part, query in _CATALOG.items():
            cur.execute(query)
            snapshot[part] = sorted(row for row in cur.fetchall() if "yoyo" not in row[0])
    conn.close()
    return snapshot


def ledger_rows(url: str) -> dict[str, list[tuple]]:
    """The user accounts, entries and transactions, in full; and the platform balances."""
    queries = {
        "user_accounts": "SELECT id, kind, unit, balance, cost_basis FROM accounts"
        " WHERE user_id IS NOT NULL ORDER BY id",
        "entries": "SELECT id, transaction_id, account_id, unit, amount FROM ledger_entries"
        " ORDER BY id",
        "transactions": "SELECT id, status, grams, total_amount, settled_at FROM transactions"
        " ORDER BY id",
        "platform_balances": "SELECT kind, balance FROM accounts WHERE user_id IS NULL"
        " ORDER BY kind",
    }
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        rows = {}
        for part, query in queries.items():
            cur.execute(query)
            rows[part] = cur.fetchall()
    conn.close()
    return rows


@dataclass
class Trades:
    api: Api
    partner: Partner
    pending_id: str


async def trades_on_0003(url: str, tmp_path: Path, make_client, settings) -> Trades:
    """A database at 0003 holding what the service writes: settled buys and sells,
    a cancelled and a pending trade."""
    migrations.apply(url, migrations_up_to("0003", tmp_path))
    api = Api(await make_client(settings, database_url=url))
    rate = await api.publish_rate()
    partner = await api.partner()
    for i in range(3):
        user = await api.user(partner, f"u{i}", kyc=True)
        await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="2.0000")
        await api.trade(partner, "sell", user["id"], rate["rate_id"], grams="0.5000")
    cancelled = await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="50.00")
    await api.call(
        "POST", f"/v1/transactions/{cancelled['id']}/cancel", headers=partner.headers, expect=200
    )
    pending = await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="50.00")
    return Trades(api, partner, pending["id"])


async def test_0004_applies_over_trades_rolls_back_to_0003_exactly_and_applies_again(
    empty_database_url, tmp_path, make_client, settings
):
    url = empty_database_url
    trades = await trades_on_0003(url, tmp_path, make_client, settings)
    schema_0003, rows_0003 = schema(url), ledger_rows(url)
    (tmp_path / "0004").mkdir()
    up_to_0004 = migrations_up_to("0004", tmp_path / "0004")
    assert rows_0003["platform_balances"] == [("treasury_money", 0), ("vault_gold", 0)]

    assert migrations.apply(url, up_to_0004) == [LEDGER_MIGRATION]
    assert schema(url) != schema_0003
    rows = ledger_rows(url)
    assert rows["platform_balances"] == [("treasury_money", None), ("vault_gold", None)]
    assert {**rows, "platform_balances": None} == {**rows_0003, "platform_balances": None}
    report = await trades.api.reconcile()
    assert (report["balanced"], report["user_grams"], report["vault_grams"]) == (
        True,
        "4.5000",
        "-4.5000",
    )

    assert migrations.rollback(url, up_to_0004, count=1) == [LEDGER_MIGRATION]
    assert schema(url) == schema_0003
    assert ledger_rows(url) == rows_0003

    assert migrations.apply(url, up_to_0004) == [LEDGER_MIGRATION]
    await trades.api.confirm(trades.partner, trades.pending_id)
    assert (await trades.api.reconcile())["balanced"] is True


async def test_0004_stops_on_an_entry_in_another_unit_than_its_account_and_changes_nothing(
    empty_database_url, tmp_path, make_client, settings
):
    url = empty_database_url
    pending_id = (await trades_on_0003(url, tmp_path, make_client, settings)).pending_id
    # What CURRENCY=USD did before 0004: USD onto an INR money account.
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO accounts (kind, unit) VALUES ('treasury_money', 'USD')")
        cur.execute(
            "INSERT INTO ledger_entries (transaction_id, account_id, unit, amount)"
            " SELECT %s, a.id, 'USD', CASE a.kind WHEN 'user_money' THEN -50 ELSE 50 END"
            "   FROM accounts a JOIN transactions t ON t.id = %s"
            "  WHERE a.unit = 'USD' OR (a.kind = 'user_money' AND a.user_id = t.user_id)",
            (pending_id, pending_id),
        )
    conn.close()
    schema_before, rows_before = schema(url), ledger_rows(url)
    with pytest.raises(psycopg2.errors.ForeignKeyViolation, match="ledger_entries_unit_is_account"):
        migrations.apply(url, MIGRATIONS_DIR)
    assert schema(url) == schema_before
    assert ledger_rows(url) == rows_before


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


def migrate_command(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "LOG_FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "-m", "gold_platform.cli", "migrate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_migrate_gives_up_after_its_wait_with_one_line():
    nothing_there = f"postgresql://gold@127.0.0.1:{free_port()}/gold"
    result = migrate_command(nothing_there, "--wait", "1")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gold-platform migrate: PostgreSQL not reachable after 1 s")


class LateForwarder:
    """Forwards a loopback port to PostgreSQL, but only once `open()` runs:
    until then connections are refused, as while a database pod starts."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.listener: socket.socket | None = None

    def open(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        assert self.listener is not None
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()


def test_migrate_waits_for_a_database_that_comes_up_late(empty_database_url):
    """The database opens only after the command has said it is waiting (not
    after a fixed delay, which a slow start-up could outrun)."""
    params = parse_dsn(empty_database_url)
    forwarder = LateForwarder(int(params.get("port", 5432)))
    params["host"], params["port"] = "127.0.0.1", str(forwarder.port)
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for(make_dsn(**params), params["dbname"]),
        "LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gold_platform.cli", "migrate", "--wait", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    killer = threading.Timer(120, process.kill)  # bounded, whatever happens
    killer.start()
    lines = []
    try:
        for line in process.stdout:  # ends when the process exits
            lines.append(line)
            if "database_not_ready" in line and forwarder.listener is None:
                forwarder.open()
        returncode = process.wait()
    finally:
        killer.cancel()
        forwarder.close()
    output = "".join(lines)
    assert returncode == 0, output
    assert any("database_not_ready" in line for line in lines), output
    assert migrations.head_id(MIGRATIONS_DIR) in output


# What the previous release could trip over, if a migration did it: the pods
# of release N keep serving while release N+1's migration has run (and after
# a rollback). A migration that must contract says why on a line
# `-- contract: <why release N no longer needs this>`, one release after the
# code that stopped using it shipped.
CONTRACTING = re.compile(
    r"\b(DROP\s+(TABLE|COLUMN|VIEW|TYPE|SCHEMA)|RENAME\b|ALTER\s+COLUMN\s+\w+\s+"
    r"(TYPE|SET\s+NOT\s+NULL)|ALTER\s+TABLE\s+\w+\s+ALTER\s+\w+\s+TYPE)",
    re.IGNORECASE,
)


def contracting_statements(sql: str) -> list[str]:
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [m.group(0) for m in CONTRACTING.finditer(code)]


def test_contracting_statements_are_recognised():
    assert contracting_statements("ALTER TABLE users DROP COLUMN kyc;") == ["DROP COLUMN"]
    assert contracting_statements("ALTER TABLE t RENAME TO u;") == ["RENAME"]
    assert contracting_statements("ALTER TABLE t ALTER COLUMN c SET NOT NULL;")
    assert contracting_statements("ALTER TABLE t ADD COLUMN c text; -- DROP COLUMN later") == []


@pytest.mark.parametrize(
    "path",
    sorted(p for p in MIGRATIONS_DIR.glob("*.sql") if not p.name.endswith(".rollback.sql")),
    ids=lambda p: p.name,
)
def test_migrations_are_expand_only_unless_they_say_why(path):
    sql = path.read_text()
    found = contracting_statements(sql)
    assert not found or "-- contract:" in sql, (
        f"{path.name} contracts the schema ({', '.join(found)}): the previous release would "
        "break on it. Expand now, contract a release later with a '-- contract: <why>' line."
    )
