"""PostgreSQL access through an aiopg pool.

Every statement runs with a server-side `statement_timeout`, because aiopg's
client-side timeout closes the connection but leaves the query running. Every
session runs in UTC, whatever the server's or the database's default time
zone: times read back (and any date arithmetic in SQL) never depend on it.

Statements run as server-side prepared statements (`_prepared_statement`):
psycopg2 has no protocol-level prepare, and planning cost as much as executing
for the short statements of a trade.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal
from uuid import UUID

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


# The statements a connection may keep prepared; past this (dynamic SQL with
# many shapes) statements run unprepared.
MAX_PREPARED_PER_CONNECTION = 200
_PREPARABLE = re.compile(r"\s*(SELECT|WITH|INSERT|UPDATE|DELETE|VALUES)\b", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


# A PREPARE declares the type psycopg2's literal for the value has, so a
# statement means what it meant unprepared; "unknown" leaves it to be inferred
# from the statement, as for an untyped literal.
_DECLARED_TYPES: dict[type, str] = {
    str: "unknown",
    int: "unknown",
    type(None): "unknown",
    bool: "boolean",
    Decimal: "numeric",
    bytes: "bytea",
    memoryview: "bytea",
    UUID: "uuid",
    datetime: "timestamptz",
    date: "date",
}


def _declared_type(value: object) -> str | None:
    """A parameter's type in PREPARE (`_DECLARED_TYPES`, by the value's exact
    class, else by the first listed class it is an instance of: datetime
    before date; a naive datetime is a timestamp, an int past int4 a bigint or
    numeric); None for a value of no such type: the statement then runs
    unprepared."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return "timestamp"
    if type(value) is int and not -(2**31) <= value < 2**31:
        # As psycopg2's literal: an int8 or, beyond, a numeric (never an
        # "out of range" where the unprepared statement compared fine).
        return "bigint" if -(2**63) <= value < 2**63 else "numeric"
    declared = _DECLARED_TYPES.get(type(value))
    if declared is None:
        declared = next((t for k, t in _DECLARED_TYPES.items() if isinstance(value, k)), None)
    return declared


@lru_cache(maxsize=1024)
def _prepared_form(
    operation: str, types: tuple[str, ...] | None, names: tuple[str, ...]
) -> tuple[str, str, str] | None:
    """(statement name, PREPARE text, EXECUTE text) for one SQL statement with
    %s (or, given `names`, %(name)s) placeholders, or none when `types` is None
    (sent without parameters: psycopg2 leaves it as it is); None if it cannot
    be prepared (a utility statement, or several statements). The texts keep
    psycopg2's placeholders where the values go, so psycopg2 still quotes
    every value."""
    if not _PREPARABLE.match(operation) or ";" in operation:
        return None
    placeholders = [m for m in _PLACEHOLDER.finditer(operation) if m.group(0) != "%%"]
    if types is not None and (
        any(bool(m.group(1)) != bool(names) for m in placeholders)
        or (not names and len(placeholders) != len(types))
    ):
        return None  # psycopg2 reports the mismatch
    positions = {name: i for i, name in enumerate(names, 1)}
    counter = iter(range(1, len(types or ()) + 1))

    def number(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%%"
        return f"${positions[match.group(1)] if names else next(counter)}"

    body = operation if types is None else _PLACEHOLDER.sub(number, operation)
    digest = hashlib.blake2b(f"{types}{names}{operation}".encode(), digest_size=10).hexdigest()
    types = types or ()
    name = f"gp_{digest}"
    arguments = ", ".join(f"%({n})s" for n in names) if names else ", ".join("%s" for _ in types)
    declared = f" ({', '.join(types)})" if types else ""
    execute = f"EXECUTE {name}({arguments})" if types else f"EXECUTE {name}"
    return name, f"PREPARE {name}{declared} AS {body}", execute


# The statements each open connection has prepared, by name; and the
# connections whose session may hold statements not named there.
_prepared: weakref.WeakKeyDictionary[aiopg.Connection, set[str]] = weakref.WeakKeyDictionary()
_unsure: weakref.WeakSet[aiopg.Connection] = weakref.WeakSet()


def _forget_prepared(conn: aiopg.Connection) -> None:
    """After a failed message that carried a PREPARE (did it run?) or an
    invalidated statement: the next PREPARE on `conn` goes after DEALLOCATE ALL."""
    _prepared.pop(conn, None)
    _unsure.add(conn)


def _prepared_statement(
    conn: aiopg.Connection, operation: str, parameters: object
) -> tuple[str, bool]:
    """(text to send with `parameters` instead of `operation`, whether it
    carries a PREPARE).

    A statement is prepared in the same message as its first run on a
    connection ("PREPARE ...; EXECUTE ..."), so that costs no extra round
    trip, and run by name after. Prepared statements outlive a rollback, but
    when that message fails it is unknown whether its PREPARE ran: the caller
    then forgets the connection's statements (`_forget_prepared`) and the next
    PREPARE there starts with DEALLOCATE ALL. A parameter nothing
    in its statement types (`SELECT %s + %s`) needs a cast, as it would as
    an untyped literal.
    """
    if isinstance(parameters, Mapping):
        names = tuple(
            dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(operation) if m.group(1))
        )
        values: Sequence[object] = [parameters[n] for n in names]
    elif isinstance(parameters, Sequence) and not isinstance(parameters, str):
        names, values = (), parameters
    elif parameters is None:
        names, values = (), ()
    else:
        return operation, False
    types = tuple(_declared_type(v) for v in values)
    if None in types:
        return operation, False
    form = _prepared_form(operation, None if parameters is None else types, names)
    if form is None:
        return operation, False
    name, prepare, execute = form
    done = _prepared.setdefault(conn, set())
    if name in done:
        return execute, False
    if len(done) >= MAX_PREPARED_PER_CONNECTION:
        return operation, False
    done.add(name)
    reset = "DEALLOCATE ALL; " if conn in _unsure else ""
    _unsure.discard(conn)
    # A newline ends any trailing -- comment of the statement.
    return f"{reset}{prepare}\n; {execute}", True


class DictCursor:
    """Rows as dicts, built with dict(zip(...)) from plain tuples.

    psycopg2's RealDictCursor builds each row item by item in Python and was
    the largest single cost of a trade in the benchmark's profile.
    """

    __slots__ = ("_cursor",)

    def __init__(self, cursor: aiopg.Cursor) -> None:
        self._cursor = cursor

    async def execute(self, operation: str, parameters: object = None) -> None:
        await self._send("", operation, "", parameters)

    async def _send(self, before: str, operation: str, after: str, parameters: object) -> None:
        """Sends `before` + the statement (prepared) + `after` as one message."""
        conn = self._cursor.connection
        text, preparing = _prepared_statement(conn, operation, parameters)
        try:
            await self._cursor.execute(f"{before}{text}{after}", parameters)
        except BaseException as exc:
            # FeatureNotSupported: e.g. "cached plan must not change result
            # type", a column it returns changed type (a migration); it would
            # fail on every later run unless prepared afresh.
            if preparing or isinstance(exc, psycopg2.errors.FeatureNotSupported):
                _forget_prepared(conn)
            raise

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
        before = after = ""
        if self._begin is not None:
            before = f"{self._begin}; "
            self._begin = None
            self.began = True
        if commit:
            after = "\n; COMMIT"  # after a newline: the end of any -- comment
            # Set before the round trip: if COMMIT fails, the server has ended the
            # transaction (rolled back) and the ROLLBACK sent on error is a no-op.
            self.committed = True
        await self._send(before, operation, after, parameters)


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
