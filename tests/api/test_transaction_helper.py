"""db.transaction sends BEGIN with the first statement and COMMIT with the one
the caller marks last; errors still roll back, whatever round trip failed."""

from __future__ import annotations

import psycopg2
import pytest

from gold_platform.db import transaction
from gold_platform.state import DB_POOL


async def test_an_error_after_the_first_statement_rolls_back(client, partner, sql):
    pool = client.app[DB_POOL]
    with pytest.raises(RuntimeError, match="boom"):
        async with transaction(pool) as cur:
            await cur.execute("UPDATE partners SET name = 'renamed' WHERE id = %s", (partner.id,))
            raise RuntimeError("boom")
    assert sql("SELECT name FROM partners WHERE id = %s", (partner.id,)) == [("acme",)]


async def test_commit_rides_with_the_last_statement_and_nothing_may_follow(client, partner, sql):
    pool = client.app[DB_POOL]
    with pytest.raises(RuntimeError, match="committed"):
        async with transaction(pool) as cur:
            await cur.execute(
                "UPDATE partners SET name = 'renamed' WHERE id = %s", (partner.id,), commit=True
            )
            assert sql("SELECT name FROM partners WHERE id = %s", (partner.id,)) == [("renamed",)]
            await cur.execute("SELECT 1")
    # The commit stands: the error came after it.
    assert sql("SELECT name FROM partners WHERE id = %s", (partner.id,)) == [("renamed",)]


async def test_a_failed_commit_rolls_back_and_the_pool_stays_usable(client):
    pool = client.app[DB_POOL]
    with pytest.raises(psycopg2.errors.UniqueViolation):
        async with transaction(pool) as cur:
            await cur.execute(
                "CREATE TEMP TABLE deferred_check (x int UNIQUE DEFERRABLE INITIALLY DEFERRED)"
                " ON COMMIT DROP"
            )
            # Checked at COMMIT, which fails in the same round trip.
            await cur.execute("INSERT INTO deferred_check VALUES (1), (1)", commit=True)
    for _ in range(pool.maxsize + 1):  # every pooled connection is out of its transaction
        async with transaction(pool) as cur:
            await cur.execute("SELECT now() = statement_timestamp() AS fresh")
            assert await cur.fetchone() == {"fresh": True}


async def test_a_transaction_without_statements_sends_nothing(client):
    async with transaction(client.app[DB_POOL]) as cur:
        assert not cur.began
    assert not cur.began and not cur.committed
