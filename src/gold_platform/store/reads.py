"""Reads that ride inside another statement, to save a round trip each.

A `Read` is a SELECT of at most one row (by primary key) that the store
module of the aggregate it reads builds (users.read, rates.read,
transactions.read); the statement that sends it (idempotency.claim, or
`fetch_reads` alone) joins it LATERAL after its own row, behind a marker
column, and `DictCursor.fetchone_parts` splits the answer again. The SQL of
each aggregate thus stays in its own module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..db import PART_MARKER, DictCursor


@dataclass(frozen=True, slots=True)
class Read:
    """The SELECT (with %s placeholders) and its parameters; `name` names its part."""

    name: str
    sql: str
    params: tuple[object, ...]


def joined(reads: Sequence[Read], condition: str = "true") -> tuple[str, str, list[object]]:
    """(select-list columns, FROM-clause joins, their parameters) that add each
    read's row to a statement's one row, after its marker column. A read's row
    is there only where `condition` (constant SQL on the rows to its left)
    holds; being LATERAL, it runs after them (e.g. after the wait on an
    idempotency key). The planner may run a read and drop its row after (a
    join filter): a read that locks must depend on an earlier read's column
    (`column`), which is NULL where the condition fails, so it locks nothing."""
    columns = "".join(f", {_alias(r)}.*" for r in reads)
    joins = "".join(
        f" LEFT JOIN LATERAL (SELECT true AS {PART_MARKER}{r.name}, r.* FROM ({r.sql}) r"
        f" WHERE {condition}) AS {_alias(r)} ON true"
        for r in reads
    )
    return columns, joins, [p for r in reads for p in r.params]


def column(name: str, column: str) -> str:
    """SQL for a column of the Read called `name`, for a later Read of the same
    statement to use (reads run in order, each LATERAL to those before it)."""
    if not column.isidentifier():
        raise ValueError(f"a column name is an identifier, not {column!r}")
    return f"{_alias(Read(name, '', ()))}.{column}"


def _alias(read: Read) -> str:
    if not read.name.isidentifier():
        raise ValueError(f"a Read's name is an identifier, not {read.name!r}")
    return f"part_{read.name}"


async def fetch_reads(cur: DictCursor, reads: Sequence[Read]) -> dict[str, dict[str, Any] | None]:
    """Runs `reads` as one statement (one round trip): {name: row or None}."""
    columns, joins, params = joined(reads)
    await cur.execute(f"SELECT true AS one{columns} FROM (SELECT) one{joins}", params)
    parts = await cur.fetchone_parts()
    del parts[""]
    return parts
