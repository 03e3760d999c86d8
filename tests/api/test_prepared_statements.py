"""Statements run as server-side prepared statements (src/gold_platform/db.py):
prepared in the message of their first run on a connection, executed by name
after, with the same meaning as unprepared; after a failed first run the
connection prepares afresh, never asks for a statement it lacks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import psycopg2
import pytest

from gold_platform import db


@pytest.fixture
async def one_connection_pool(settings):
    """A pool of a single connection: every block below runs on the same session."""
    pool = await db.create_pool(replace(settings, database_pool_size=1, database_max_overflow=0))
    yield pool
    pool.close()
    await pool.wait_closed()


async def prepared_here(pool) -> dict[str, int]:
    """{the message that prepared it: times it ran} on the pool's one session
    (asked unprepared)."""
    async with pool.acquire() as conn, conn.cursor() as raw:
        await raw.execute(
            "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements"
            " WHERE name LIKE 'gp\\_%'"
        )
        return dict(await raw.fetchall())


async def test_a_statement_is_prepared_once_per_connection_and_run_by_name(one_connection_pool):
    for n in (1, 2, 3):
        async with db.transaction(one_connection_pool) as cur:
            await cur.execute("SELECT %s::int * 2 AS doubled", (n,))
            assert await cur.fetchone() == {"doubled": 2 * n}
    ((text, runs),) = (await prepared_here(one_connection_pool)).items()
    assert "PREPARE gp_" in text and "$1::int * 2" in text
    assert runs == 3


async def test_values_keep_their_meaning_prepared(one_connection_pool):
    """Decimals stay numeric where nothing else types them (a VALUES list),
    times keep their kind; %% is still a percent sign; named parameters work;
    None is NULL."""
    statement = (
        "SELECT v.amount + 0 AS amount, pg_typeof(v.amount)::text AS type,"
        " pg_typeof(%(aware)s)::text AS aware, pg_typeof(%(naive)s)::text AS naive,"
        " %(label)s || '%%' AS label, %(missing)s::text IS NULL AS missing"
        " FROM (VALUES (%(amount)s)) AS v (amount)"
    )
    values = {
        "label": "5",
        "missing": None,
        "amount": Decimal("0.0001"),
        "aware": datetime(2026, 1, 2, tzinfo=UTC),
        "naive": datetime(2026, 1, 2),
    }
    for _ in range(2):  # the first run prepares, the second runs by name
        async with db.autocommit(one_connection_pool) as cur:
            await cur.execute(statement, values)
            assert await cur.fetchone() == {
                "amount": Decimal("0.0001"),
                "type": "numeric",
                "aware": "timestamp with time zone",
                "naive": "timestamp without time zone",
                "label": "5%",
                "missing": True,
            }
    assert len(await prepared_here(one_connection_pool)) == 1


async def test_what_cannot_be_prepared_runs_as_it_is(one_connection_pool):
    async with db.transaction(one_connection_pool) as cur:
        await cur.execute("CREATE TEMP TABLE scratch (x int) ON COMMIT DROP")  # utility
        await cur.execute("INSERT INTO scratch SELECT unnest(%s::int[])", ([1, 2],))  # a list
        await cur.execute("SELECT sum(x) AS total FROM scratch")
        assert await cur.fetchone() == {"total": 3}
    (prepared,) = await prepared_here(one_connection_pool)
    assert "sum(x)" in prepared


async def backend(pool) -> int:
    async with pool.acquire() as conn, conn.cursor() as raw:
        await raw.execute("SELECT pg_backend_pid()")
        (pid,) = await raw.fetchone()
        return pid


async def test_a_failed_first_run_never_leaves_a_name_the_session_lacks(one_connection_pool):
    """A statement whose PREPARE fails fails the same way each time, instead
    of the next run asking for a statement the session does not have; a
    failure after the PREPARE leaves the session usable; the connection is
    kept throughout."""
    session = await backend(one_connection_pool)
    for _ in range(2):
        with pytest.raises(psycopg2.errors.UndefinedObject):
            async with db.autocommit(one_connection_pool) as cur:
                await cur.execute("SELECT %s::no_such_type AS v", ("x",))
    statement = "SELECT 10 / %s::int AS quotient"
    with pytest.raises(psycopg2.errors.DivisionByZero):
        async with db.transaction(one_connection_pool) as cur:
            await cur.execute(statement, (0,), commit=True)
    for _ in range(2):
        async with db.transaction(one_connection_pool) as cur:
            await cur.execute(statement, (5,))
            assert await cur.fetchone() == {"quotient": 2}
    assert await backend(one_connection_pool) == session


async def test_integers_past_int4_and_trailing_comments(one_connection_pool):
    """An int beyond int4 (or int8) compares as its literal would, never "out
    of range"; a statement ending in a -- comment still runs, COMMIT too."""
    for _ in range(2):
        async with db.transaction(one_connection_pool) as cur:
            await cur.execute(
                "SELECT 1::int4 < %s AS past_int4, 1::int8 < %s AS past_int8 -- note",
                (3_000_000_000, 10**20),
            )
            assert await cur.fetchone() == {"past_int4": True, "past_int8": True}
            await cur.execute("SELECT %s::int AS n -- note", (1,), commit=True)
    async with db.autocommit(one_connection_pool) as cur:
        await cur.execute("SELECT now() = statement_timestamp() AS outside_a_transaction")
        assert await cur.fetchone() == {"outside_a_transaction": True}


async def test_a_column_that_changes_type_costs_one_error_not_every_run(one_connection_pool):
    """A migration that changes a returned column's type invalidates the
    prepared statement's result ("cached plan must not change result type"):
    that run fails, the next prepares it afresh on the same session."""
    async with db.autocommit(one_connection_pool) as cur:
        await cur.execute("CREATE TABLE widening (x int)")
        await cur.execute("INSERT INTO widening VALUES (%s)", (41,))
    statement = "SELECT x + 1 AS next FROM widening WHERE x = %s"
    async with db.autocommit(one_connection_pool) as cur:
        await cur.execute(statement, (41,))
        assert await cur.fetchone() == {"next": 42}
        await cur.execute("ALTER TABLE widening ALTER COLUMN x TYPE numeric")
    with pytest.raises(psycopg2.errors.FeatureNotSupported):
        async with db.autocommit(one_connection_pool) as cur:
            await cur.execute(statement, (41,))
    async with db.autocommit(one_connection_pool) as cur:
        await cur.execute(statement, (41,))
        assert await cur.fetchone() == {"next": Decimal(42)}
    assert len(await prepared_here(one_connection_pool)) == 1


async def test_past_the_cap_statements_run_unprepared(one_connection_pool, monkeypatch):
    monkeypatch.setattr(db, "MAX_PREPARED_PER_CONNECTION", 1)
    for statement in ("SELECT %s::int AS a", "SELECT %s::int AS b"):
        async with db.autocommit(one_connection_pool) as cur:
            await cur.execute(statement, (7,))
            assert list((await cur.fetchone()).values()) == [7]
    (prepared,) = await prepared_here(one_connection_pool)
    assert "AS a" in prepared
