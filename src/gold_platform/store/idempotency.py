"""Idempotency keys: the first request's response, replayed byte for byte for
the same key for a window of hours, then purged.

A partner's keys are in idempotency_keys, the operator's (who has no partner
id) in operator_idempotency_keys; `partner_id=None` means the operator's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypedDict

from ..db import DictCursor, TxCursor
from .reads import Read, joined

# (table, the columns a key is unique by, the values' placeholders)
_PARTNER = ("idempotency_keys", "partner_id, key", "%s, %s")
_OPERATOR = ("operator_idempotency_keys", "key", "%s")


class StoredResponse(TypedDict):
    """The first request's answer under a key: what a replay compares and sends."""

    request_hash: bytes
    response_status: int
    response_bytes: bytes


def _scope(partner_id: str | None, key: str) -> tuple[tuple[str, str, str], tuple[str, ...]]:
    if partner_id is None:
        return _OPERATOR, (key,)
    return _PARTNER, (partner_id, key)


async def claim(
    cur: DictCursor,
    partner_id: str | None,
    key: str,
    request_hash: bytes,
    reads: Sequence[Read] = (),
) -> tuple[StoredResponse | None, dict[str, dict[str, Any] | None]]:
    """(None, rows) when this request now owns the key; otherwise (the first
    request's row (request_hash, response_status, response_bytes), to replay, {}).

    A concurrent request with the same key blocks here until the owner commits
    (then its answered row comes back) or rolls back (then this request owns the
    key). The conflict arm is a no-op update rather than DO NOTHING so that the
    same statement returns the stored row (and locks it, so the purge skips it):
    read separately, it could be purged in between. A row without a response can
    only be this request's own insert, since the owner records the response
    before it commits.

    `reads` (each from its aggregate's store module, see store/reads.py) go in
    the same statement, saving a round trip each, and return rows only when
    this request owns the key: they are LATERAL to the claim, so they run after
    it (after any wait on the key). The statement spans aggregates but writes
    only the key, hence it lives here. `rows` maps each read's name to its row
    or None.
    """
    (table, unique, placeholders), owner = _scope(partner_id, key)
    # A partner's row written by the previous release has only the jsonb copy.
    previous = "response_body" if partner_id is not None else "NULL::jsonb"
    columns, joins, read_params = joined(reads, "claim.response_status IS NULL")
    await cur.execute(
        f"WITH claim AS ("
        f"INSERT INTO {table} ({unique}, request_hash) VALUES ({placeholders}, %s)"
        f" ON CONFLICT ({unique}) DO UPDATE SET key = EXCLUDED.key"
        f" RETURNING request_hash, response_status, response_bytes, {previous} AS response_body)"
        f" SELECT claim.*{columns} FROM claim{joins}",
        (*owner, request_hash, *read_params),
    )
    parts = await cur.fetchone_parts()
    # INSERT ... ON CONFLICT DO UPDATE always returns its row
    row = parts.pop("")
    assert row is not None
    if row["response_status"] is None:
        return None, parts
    raw = row["response_bytes"]
    return StoredResponse(
        request_hash=bytes(row["request_hash"]),
        response_status=row["response_status"],
        response_bytes=bytes(raw) if raw is not None else json.dumps(row["response_body"]).encode(),
    ), {}


async def record(cur: TxCursor, partner_id: str | None, key: str, status: int, body: bytes) -> None:
    """Stores the exact bytes answered (and, for a partner, the jsonb copy the
    previous release replays from), and commits in the same round trip: it is
    the last statement of the key's transaction."""
    (table, unique, placeholders), owner = _scope(partner_id, key)
    copy = ", response_body = convert_from(%s, 'UTF8')::jsonb" if partner_id is not None else ""
    await cur.execute(
        f"UPDATE {table} SET response_status = %s, response_bytes = %s{copy}"
        f" WHERE ({unique}) = ({placeholders})",
        (status, body, *((body,) if partner_id is not None else ()), *owner),
        commit=True,
    )


async def purge_older_than(cur: DictCursor, hours: int, batch: int) -> int:
    """Deletes up to `batch` keys of each table created more than `hours` ago,
    oldest first (the created_at indexes find them); returns how many. Keys
    locked by a replay in progress are left for the next batch."""
    await cur.execute(
        """
        WITH partners AS (
            DELETE FROM idempotency_keys
             WHERE (partner_id, key) IN (
                   SELECT partner_id, key FROM idempotency_keys
                    WHERE created_at < now() - make_interval(hours => %(hours)s)
                    ORDER BY created_at LIMIT %(batch)s
                      FOR UPDATE SKIP LOCKED)
            RETURNING 1
        ), operator AS (
            DELETE FROM operator_idempotency_keys
             WHERE key IN (
                   SELECT key FROM operator_idempotency_keys
                    WHERE created_at < now() - make_interval(hours => %(hours)s)
                    ORDER BY created_at LIMIT %(batch)s
                      FOR UPDATE SKIP LOCKED)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM partners) + (SELECT count(*) FROM operator) AS purged
        """,
        {"hours": hours, "batch": batch},
    )
    row = await cur.fetchone()
    assert row is not None
    purged: int = row["purged"]
    return purged
