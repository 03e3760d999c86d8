"""Partners and their API keys (only a hash of the secret is stored)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict, cast

from ..db import DictCursor

KEY_PREFIX = "gp"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key_id: str
    secret: str

    @property
    def token(self) -> str:
        return f"{KEY_PREFIX}_{self.key_id}_{self.secret}"


class PartnerRow(TypedDict):
    id: str
    name: str
    created_at: datetime


class PartnerKeyRow(TypedDict):
    """What authenticating a key reads: the stored hash, and whether it is disabled."""

    id: str
    key_hash: bytes
    disabled_at: datetime | None


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


async def create(cur: DictCursor, name: str) -> tuple[PartnerRow, IssuedKey]:
    key = new_key()
    await cur.execute(
        "INSERT INTO partners (name, key_id, key_hash) VALUES (%s, %s, %s)"
        " RETURNING id, name, created_at",
        (name, key.key_id, hash_secret(key.secret)),
    )
    return cast(PartnerRow, await cur.fetchone()), key


async def rotate_key(cur: DictCursor, partner_id: str) -> IssuedKey:
    """A new key for the partner; the previous one stops working (as soon as no
    worker has it cached: `auth.KEY_CACHE_SECONDS`)."""
    key = new_key()
    await cur.execute(
        "UPDATE partners SET key_id = %s, key_hash = %s WHERE id = %s",
        (key.key_id, hash_secret(key.secret), partner_id),
    )
    return key


async def find_by_key_id(cur: DictCursor, key_id: str) -> PartnerKeyRow | None:
    await cur.execute("SELECT id, key_hash, disabled_at FROM partners WHERE key_id = %s", (key_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    return PartnerKeyRow(
        id=row["id"], key_hash=bytes(row["key_hash"]), disabled_at=row["disabled_at"]
    )


async def exists_by_name(cur: DictCursor, name: str) -> bool:
    await cur.execute("SELECT 1 FROM partners WHERE name = %s", (name,))
    return await cur.fetchone() is not None
