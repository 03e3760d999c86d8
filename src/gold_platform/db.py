"""PostgreSQL access through an aiopg pool.

Every statement runs with a server-side `statement_timeout`, because aiopg's
client-side timeout closes the connection but leaves the query running. Every
session runs in UTC, whatever the server's or the database's default time
zone: times read back (and any date arithmetic in SQL) never depend on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import aiopg
import psycopg2
from psycopg2.extensions import make_dsn, parse_dsn

from .observability.logs import get_logger
from .observability.metrics import DB_POOL_CONNECTIONS
from .settings import Settings

log = get_logger(__name__)

Isolation = Literal["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"]
CONNECT_TIMEOUT_SECONDS = 3
# Waiting longer than this for a pooled connection means the database is down
# or saturated: answer 503 rather than queue requests without bound.
ACQUIRE_TIMEOUT_SECONDS = CONNECT_TIMEOUT_SECONDS + 1
POOL_METRICS_INTERVAL_SECONDS = 2.0


def session_dsn(settings: Settings, application_name: str = "gold-platform") -> str:
    params = parse_dsn(settings.database_url)
    params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_SECONDS))
    params["application_name"] = application_name
    params["options"] = (
        f"{params.get('options', '')} -c statement_timeout={settings.database_statement_timeout_ms}"
        " -c lock_timeout=2000 -c idle_in_transaction_session_timeout=30000 -c timezone=UTC"
    ).strip()
    return make_dsn(**params)


async def create_pool(settings: Settings) -> aiopg.Pool:
    """A pool that opens no connection yet, so the process starts (and reports
    not-ready) even while PostgreSQL is down; `warm_up` fills it afterwards."""
    return await aiopg.create_pool(
        session_dsn(settings),
        minsize=0,
        maxsize=settings.database_pool_max,
        # Client-side bound, a little over the server's, for a dead network.
        timeout=settings.database_statement_timeout_ms / 1000 + CONNECT_TIMEOUT_SECONDS,
        pool_recycle=300,
    )


class DictCursor:
    """Rows as dicts, built with dict(zip(...)) from plain tuples.

    psycopg2's RealDictCursor builds each row item by item in Python and was
    the largest single cost of a trade in the benchmark's profile.
    """

    __slots__ = ("_cursor",)

    def __init__(self, cursor: aiopg.Cursor) -> None:
        self._cursor = cursor

    async def execute(self, operation: str, parameters: object = None) -> None:
        await self._cursor.execute(operation, parameters)

    def _names(self) -> list[str]:
        return [column.name for column in self._cursor.description or ()]

    async def fetchone(self) -> dict[str, Any] | None:
        row = await self._cursor.fetchone()
        return None if row is None else dict(zip(self._names(), row, strict=True))

    async def fetchall(self) -> list[dict[str, Any]]:
        rows = await self._cursor.fetchall()
        if not rows:
            return []
        names = self._names()
        return [dict(zip(names, row, strict=True)) for row in rows]

    async def fetchone_parts(self) -> dict[str, dict[str, Any] | None]:
        """The one row of a statement that joined `Read`s (see `Read.joined`), split
        into its parts: {"": the columns before the first part, name: the part's
        columns, or None when its marker column is NULL (store/reads.py)}."""
        row = await self._cursor.fetchone()
        if row is None:
            raise LookupError("the statement returned no row")
        parts: dict[str, dict[str, Any] | None] = {}
        current: dict[str, Any] | None = {}
        parts[""] = current
        for name, value in zip(self._names(), row, strict=True):
            if name.startswith(PART_MARKER):
                current = {} if value else None
                parts[name[len(PART_MARKER) :]] = current
            elif current is not None:
                current[name] = value
        return parts


# The marker column that starts a part of a row (store/reads.py Read).
PART_MARKER = "found_"


@asynccontextmanager
async def _connection(pool: aiopg.Pool) -> AsyncIterator[aiopg.Connection]:
    async with asyncio.timeout(ACQUIRE_TIMEOUT_SECONDS):
        conn = await pool.acquire()
    try:
        yield conn
    finally:
        await pool.release(conn)


class TxCursor(DictCursor):
    """A DictCursor inside `transaction`: BEGIN and COMMIT ride with statements.

    BEGIN is sent in the same simple-protocol message as the first statement
    ("BEGIN ...; <statement>": one round trip; psycopg2 returns the last
    statement's rows), and `execute(..., commit=True)` sends COMMIT with the
    last one; nothing may run after it. A transaction that ran no statement
    sends nothing at all.
    """

    __slots__ = ("_begin", "began", "committed")

    def __init__(self, cursor: aiopg.Cursor, begin: str) -> None:
        super().__init__(cursor)
        self._begin: str | None = begin
        self.began = False  # BEGIN was sent (or may have been: it failed in flight)
        self.committed = False

    async def execute(
        self, operation: str, parameters: object = None, *, commit: bool = False
    ) -> None:
        if self.committed:
            raise RuntimeError("the transaction has committed: no statement may follow")
        if self._begin is not None:
            operation = f"{self._begin}; {operation}"
            self._begin = None
            self.began = True
        if commit:
            operation = f"{operation}; COMMIT"
            # Set before the round trip: if COMMIT fails, the server has ended the
            # transaction (rolled back) and the ROLLBACK sent on error is a no-op.
            self.committed = True
        await self._cursor.execute(operation, parameters)


@asynccontextmanager
async def transaction(
    pool: aiopg.Pool, isolation: Isolation = "READ COMMITTED"
) -> AsyncIterator[TxCursor]:
    """A cursor inside BEGIN ... COMMIT; any exception rolls back.

    BEGIN goes with the first statement and COMMIT with the last one when the
    caller says so (`TxCursor`): for a trade that is 2 of the round trips per
    request saved. A connection left mid-transaction (e.g. it broke during
    ROLLBACK) is closed by the pool on release rather than reused.
    """
    async with _connection(pool) as conn:
        async with conn.cursor() as raw:
            cur = TxCursor(raw, f"BEGIN ISOLATION LEVEL {isolation}")
            try:
                yield cur
            except BaseException:
                if cur.began and not conn.closed:
                    try:
                        # Also after a failed "...; COMMIT": then a no-op (a warning).
                        await raw.execute("ROLLBACK")
                    except psycopg2.Error:
                        conn.close()
                raise
            if cur.began and not cur.committed:
                await raw.execute("COMMIT")


@asynccontextmanager
async def autocommit(pool: aiopg.Pool) -> AsyncIterator[DictCursor]:
    """A cursor for single read statements (each runs in its own transaction)."""
    async with _connection(pool) as conn:
        async with conn.cursor() as raw:
            yield DictCursor(raw)


async def warm_up(pool: aiopg.Pool, connections: int) -> None:
    """Open `connections` (DATABASE_POOL_SIZE) connections before the first requests.

    Best effort: a failure here is what readiness reports, not a crash. Any
    connection older than `pool_recycle` (five minutes) is replaced when next
    taken, so connections opened under load (up to size + overflow) do not
    live forever, and neither do these.
    """
    held = []
    try:
        for _ in range(connections):
            held.append(await pool.acquire())
    except (psycopg2.Error, OSError, TimeoutError) as exc:
        log.warning("pool_warm_up_failed", error=type(exc).__name__)
    finally:
        for conn in held:
            pool.release(conn)


def record_pool_metrics(pool: aiopg.Pool, maxsize: int) -> None:
    DB_POOL_CONNECTIONS.labels("size").set(pool.size)
    DB_POOL_CONNECTIONS.labels("free").set(pool.freesize)
    DB_POOL_CONNECTIONS.labels("used").set(pool.size - pool.freesize)
    DB_POOL_CONNECTIONS.labels("max").set(maxsize)


async def report_pool_metrics(pool: aiopg.Pool, maxsize: int) -> None:
    while True:
        record_pool_metrics(pool, maxsize)
        await asyncio.sleep(POOL_METRICS_INTERVAL_SECONDS)
