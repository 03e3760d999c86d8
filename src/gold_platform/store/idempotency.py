"""Idempotency keys: the first request's response, replayed for the same key
for a window of hours, then purged."""

from __future__ import annotations

import json


async def claim(cur, partner_id: str, key: str, request_hash: bytes) -> dict | None:
    """None when this request now owns the key; otherwise the first request's row
    (request_hash, response_status, response_body), to replay.

    A concurrent request with the same key blocks here until the owner commits
    (then its answered row comes back) or rolls back (then this request owns the
    key). The conflict arm is a no-op update rather than DO NOTHING so that the
    same statement returns the stored row (and locks it, so the purge skips it):
    read separately, it could be purged in between. A row without a response can
    only be this request's own insert, since the owner records the response
    before it commits.
    """
    await cur.execute(
        "INSERT INTO idempotency_keys (partner_id, key, request_hash) VALUES (%s, %s, %s)"
        " ON CONFLICT (partner_id, key) DO UPDATE SET key = EXCLUDED.key"
        " RETURNING request_hash, response_status, response_body",
        (partner_id, key, request_hash),
    )
    row = await cur.fetchone()
    if row["response_status"] is None:
        return None
    row["request_hash"] = bytes(row["request_hash"])
    return row


async def record(cur, partner_id: str, key: str, status: int, body: dict) -> None:
    await cur.execute(
        "UPDATE idempotency_keys SET response_status = %s, response_body = %s"
        " WHERE partner_id = %s AND key = %s",
        (status, json.dumps(body), partner_id, key),
    )


async def purge_older_than(cur, hours: int, batch: int) -> int:
    """Deletes up to `batch` keys created more than `hours` ago, oldest first
    (the created_at index finds them); returns how many. Keys locked by a
    replay in progress are left for the next batch."""
    await cur.execute(
        """
        WITH purged AS (
            DELETE FROM idempotency_keys
             WHERE (partner_id, key) IN (
                   SELECT partner_id, key FROM idempotency_keys
                    WHERE created_at < now() - make_interval(hours => %s)
                    ORDER BY created_at LIMIT %s
                      FOR UPDATE SKIP LOCKED)
            RETURNING 1
        )
        SELECT count(*) AS purged FROM purged
        """,
        (hours, batch),
    )
    return (await cur.fetchone())["purged"]
