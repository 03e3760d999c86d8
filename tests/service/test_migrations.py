import contextlib
import os
import re
import socket
import subprocess
import sys
import threading

import psycopg2
import pytest
from psycopg2.extensions import make_dsn, parse_dsn

from gold_platform import migrations
from gold_platform.devstack import free_port
from gold_platform.settings import REPO_MIGRATIONS_DIR
from tests.conftest import database_url_for

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
    params = parse_dsn(empty_database_url)
    forwarder = LateForwarder(int(params.get("port", 5432)))
    params["host"], params["port"] = "127.0.0.1", str(forwarder.port)
    opener = threading.Timer(1.5, forwarder.open)
    opener.start()
    try:
        result = migrate_command(
            database_url_for(make_dsn(**params), params["dbname"]), "--wait", "60"
        )
    finally:
        opener.cancel()
        forwarder.close()
    assert result.returncode == 0, result.stderr
    assert migrations.head_id(MIGRATIONS_DIR) in result.stdout
    assert "database_not_ready" in result.stdout + result.stderr


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
