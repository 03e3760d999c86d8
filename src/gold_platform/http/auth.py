"""Who is calling: a partner (API key) or the operator (OPERATOR_API_KEY).

Partner keys are `gp_<key_id>_<secret>`: the key id finds the partner, and the
secret's SHA-256 is compared with `hmac.compare_digest`, so neither the lookup
nor the comparison leaks how much of a secret was right.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web

from ..db import autocommit
from ..state import DB_POOL, SETTINGS
from ..store import partners
from .problems import Problem

PUBLIC_PREFIXES = ("/v1/openapi.json", "/v1/docs")
KEY_CACHE_SECONDS = 30.0
_DUMMY_HASH = hashlib.sha256(b"no such key").digest()


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # "partner" | "operator"
    partner_id: str | None
    key_id: str  # what rate limits count against


PRINCIPAL = web.RequestKey("principal", Principal)


def unauthorized(detail: str) -> Problem:
    return Problem(
        401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"}
    )


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Forbidden", detail)


class _Credentials:
    """What a worker remembers of API keys, each entry for KEY_CACHE_SECONDS.

    - key_id -> (partner, key hash, disabled), in a short LRU; unknown key ids
      are remembered too, so repeating a bad key costs no query;
    - the SHA-256 of a token already verified -> its principal, so a known
      caller costs one hash and a lookup.

    A disabled partner or a rotated key is refused at the latest
    KEY_CACHE_SECONDS later.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, operator_key: str | None) -> None:
        self.operator_digest = (
            hashlib.sha256(operator_key.encode()).digest() if operator_key else None
        )
        self._rows: OrderedDict[str, tuple[float, partners.PartnerKeyRow | None]] = OrderedDict()
        self._verified: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()

    def verified(self, digest: bytes) -> Principal | None:
        cached = self._verified.get(digest)
        if cached is None or time.monotonic() - cached[0] >= KEY_CACHE_SECONDS:
            return None
        return cached[1]

    def remember(self, digest: bytes, principal: Principal, since: float) -> None:
        """`since`: when the row that proved the key was read."""
        _put(self._verified, digest, (since, principal), self.MAX_ENTRIES)

    async def find(
        self, request: web.Request, key_id: str
    ) -> tuple[float, partners.PartnerKeyRow | None]:
        """(when the row was read, the row) for a key id."""
        cached = self._rows.get(key_id)
        now = time.monotonic()
        if cached and now - cached[0] < KEY_CACHE_SECONDS:
            self._rows.move_to_end(key_id)
            return cached
        async with autocommit(request.app[DB_POOL]) as cur:
            row = await partners.find_by_key_id(cur, key_id)
        _put(self._rows, key_id, (now, row), self.MAX_ENTRIES)
        return now, row


def _put(lru: OrderedDict, key, value, max_entries: int) -> None:
    lru[key] = value
    lru.move_to_end(key)
    if len(lru) > max_entries:
        lru.popitem(last=False)


CREDENTIALS = web.AppKey("credentials", _Credentials)


def setup(app: web.Application) -> None:
    app[CREDENTIALS] = _Credentials(app[SETTINGS].operator_api_key)


async def _authenticate(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
    token = token.strip()
    # aiohttp decodes header bytes with surrogateescape; keep them, never crash on them.
    digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
    credentials = request.app[CREDENTIALS]
    known = credentials.verified(digest)
    if known is not None:
        return known

    operator_digest = credentials.operator_digest
    if operator_digest and hmac.compare_digest(digest, operator_digest):
        return Principal("operator", None, "operator")

    parts = partners.split_token(token)
    read_at, row = await credentials.find(request, parts[0]) if parts else (0.0, None)
    expected = row["key_hash"] if row else _DUMMY_HASH
    secret_hash = partners.hash_secret(parts[1] if parts else token)
    if (
        not hmac.compare_digest(secret_hash, expected)
        or parts is None
        or row is None
        or row["disabled_at"]
    ):
        raise unauthorized("The API key is not valid.")
    principal = Principal("partner", str(row["id"]), parts[0])
    credentials.remember(digest, principal, read_at)
    return principal


@web.middleware
async def authenticate(request: web.Request, handler) -> web.StreamResponse:
    if request.path.startswith("/v1/") and not request.path.startswith(PUBLIC_PREFIXES):
        request[PRINCIPAL] = await _authenticate(request)
    return await handler(request)


def require_partner(request: web.Request) -> str:
    principal = request[PRINCIPAL]
    if principal.kind != "partner":
        raise forbidden("This route is for partner keys.")
    assert principal.partner_id is not None  # a partner's principal always names it
    return principal.partner_id


def require_operator(request: web.Request) -> None:
    if request[PRINCIPAL].kind != "operator":
        raise forbidden("This route needs the operator key.")


def authorize(request: web.Request, role: str) -> None:
    """The role an operation documents (x-role): partner, operator or any."""
    if role == "partner":
        require_partner(request)
    elif role == "operator":
        require_operator(request)
