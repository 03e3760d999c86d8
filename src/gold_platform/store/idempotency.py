"""Idempotency keys: the first request's response, replayed for the same key."""

from __future__ import annotations

import json


async def claim(cur, partner_id: str, key: str, request_hash: bytes) -> bool:
    """True when this request owns the key. A concurrent request with the same
    key blocks here until the owner commits (then False) or rolls back (then True)."""
    await cur.execute(
        "INSERT INTO idempotency_keys (partner_id, key, request_hash) VALUES (%s, %s, %s)"
        " ON CONFLICT (partner_id, key) DO NOTHING RETURNING 1",
        (partner_id, key, request_hash),
    )
    return await cur.fetchone() is not None


async def stored(cur, partner_id: str, key: str) -> dict | None:
    await cur.execute(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys"
        " WHERE partner_id = %s AND key = %s",
        (partner_id, key),
    )
    row = await cur.fetchone()
    if row is not None:
        row["request_hash"] = bytes(row["request_hash"])
    return row


async def record(cur, partner_id: str, key: str, status: int, body: dict) -> None:
    await cur.execute(
        "UPDATE idempotency_keys SET response_status = %s, response_body = %s"
        " WHERE partner_id = %s AND key = %s",
        (status, json.dumps(body), partner_id, key),
    )
