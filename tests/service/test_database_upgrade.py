"""The upgrade path of docs/database-upgrade.md, for real: a PostgreSQL 14 database
with a settled trade, dumped with 18's pg_dump -Fc and restored into 18 with
pg_restore, keeps every row, the same ledger and a balanced reconciliation."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg2
import pytest

from gold_devtools import devstack, postgres_binaries
from gold_platform import migrations
from gold_platform.settings import REPO_MIGRATIONS_DIR
from tests.reliability.helpers import Api, migrate, table_counts

pytestmark = pytest.mark.slow

OLD_MAJOR, NEW_MAJOR = 14, 18


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """This test's own PostgreSQL 14 (migrated) and 18 (empty database)."""
    with (
        devstack.postgres(tmp_path / "old", major=OLD_MAJOR) as old,
        devstack.postgres(tmp_path / "new", major=NEW_MAJOR) as new,
    ):
        migrate(old)
        yield old, new


@pytest.fixture
def database_url(servers) -> str:
    """The suite's settings and client fixtures, on the 14 database."""
    return servers[0]


def query_one(url: str, statement: str):
    # UTC, so that timestamps read back as the same text from either server.
    with closing(psycopg2.connect(url, options="-c TimeZone=UTC")) as conn, conn.cursor() as cur:
        cur.execute(statement)
        return cur.fetchone()[0]


def public_tables(url: str) -> tuple[str, ...]:
    """The service's tables and yoyo's (which record the applied migrations)."""
    return tuple(
        query_one(
            url,
            "SELECT array_agg(tablename::text ORDER BY tablename) FROM pg_tables"
            " WHERE schemaname = 'public'",
        )
    )


LEDGER_CHECKSUM = "SELECT md5(string_agg(e::text, '|' ORDER BY e.id)) FROM ledger_entries e"


def run_tool(name: str, *args: str | Path) -> None:
    done = subprocess.run(
        [str(postgres_binaries.client_tool(name)), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


async def test_dump_from_14_restored_into_18_keeps_rows_ledger_and_migrations(
    servers, client, make_client, settings, tmp_path
):
    old, new = servers
    api = Api(client)
    partner = await api.partner("upgrade-bank")
    rate = await api.publish_rate()
    user = await api.user(partner, "upgrade-customer")
    await api.buy(partner, user["id"], rate["rate_id"], grams="2.5000")
    pending_sell = await api.verify(partner, "sell", user["id"], rate["rate_id"], grams="0.5000")
    assert pending_sell.status == 201, pending_sell.body
    assert (await api.reconcile())["balanced"] is True

    dump = tmp_path / "gold.dump"
    started = time.monotonic()
    run_tool("pg_dump", "--format=custom", "--file", dump, "--dbname", old)
    run_tool("pg_restore", "--exit-on-error", "--no-owner", "--dbname", new, dump)
    print(f"\n[upgrade] pg_dump -Fc + pg_restore: {time.monotonic() - started:.2f} s")

    assert query_one(new, "SHOW server_version").startswith(f"{NEW_MAJOR}.")
    tables = public_tables(old)
    assert {"partners", "users", "transactions", "ledger_entries", "_yoyo_migration"} <= set(tables)
    assert public_tables(new) == tables
    counts = table_counts(old, tables)
    assert counts["ledger_entries"] > 0 and counts["transactions"] == 2
    assert table_counts(new, tables) == counts
    assert query_one(new, LEDGER_CHECKSUM) == query_one(old, LEDGER_CHECKSUM)
    assert migrations.apply(new, REPO_MIGRATIONS_DIR) == [], "yoyo found migrations to apply"

    on_new = Api(await make_client(settings, database_url=new))
    reconciliation = await on_new.reconcile()
    assert reconciliation["balanced"] is True, reconciliation
    assert reconciliation["user_grams"] == "2.5000"
