"""Partners and their API keys (only a hash of the secret is stored)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

KEY_PREFIX = "gp"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    secret: str

    @property
    def token(self) -> str:
        return f"{KEY_PREFIX}_{self.key_id}_{self.secret}"


def new_key() -> IssuedKey:
    return IssuedKey(key_id=secrets.token_hex(8), secret=secrets.token_urlsafe(32))


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


def split_token(token: str) -> tuple[str, str] | None:
    """`gp_<key_id>_<secret>` -> (key_id, secret); None when malformed."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or len(key_id) != 16 or not secret:
        return None
    return key_id, secret


async def create(cur, name: str) -> tuple[dict, IssuedKey]:
    key = new_key()
    await cur.execute(
        "INSERT INTO partners (name, key_id, key_hash) VALUES (%s, %s, %s)"
        " RETURNING id, name, created_at",
        (name, key.key_id, hash_secret(key.secret)),
    )
    return await cur.fetchone(), key


async def rotate_key(cur, partner_id: str) -> IssuedKey:
    """A new key for the partner; the previous one stops working (as soon as no
    worker has it cached: `auth.KEY_CACHE_SECONDS`)."""
    key = new_key()
    await cur.execute(
        "UPDATE partners SET key_id = %s, key_hash = %s WHERE id = %s",
        (key.key_id, hash_secret(key.secret), partner_id),
    )
    return key


async def find_by_key_id(cur, key_id: str) -> dict | None:
    await cur.execute("SELECT id, key_hash, disabled_at FROM partners WHERE key_id = %s", (key_id,))
    row = await cur.fetchone()
    if row is not None:
        row["key_hash"] = bytes(row["key_hash"])
    return row


async def exists_by_name(cur, name: str) -> bool:
    await cur.execute("SELECT 1 FROM partners WHERE name = %s", (name,))
    return await cur.fetchone() is not None
