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


class _PartnerKeys:
    """A short in-process LRU of key_id -> (partner, key hash, disabled).

    Unknown key ids are remembered too, so repeating a bad key costs no query.
    A disabled partner is refused at the latest KEY_CACHE_SECONDS later.
    """

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._rows: OrderedDict[str, tuple[float, partners.PartnerKeyRow | None]] = OrderedDict()

    async def find(self, request: web.Request, key_id: str) -> partners.PartnerKeyRow | None:
        cached = self._rows.get(key_id)
        now = time.monotonic()
        if cached and now - cached[0] < KEY_CACHE_SECONDS:
            self._rows.move_to_end(key_id)
            return cached[1]
        async with autocommit(request.app[DB_POOL]) as cur:
            row = await partners.find_by_key_id(cur, key_id)
        self._rows[key_id] = (now, row)
        self._rows.move_to_end(key_id)
        if len(self._rows) > self.MAX_ENTRIES:
            self._rows.popitem(last=False)
        return row


PARTNER_KEYS = web.AppKey("partner_keys", _PartnerKeys)


def setup(app: web.Application) -> None:
    app[PARTNER_KEYS] = _PartnerKeys()


async def _authenticate(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
    token = token.strip()
    # aiohttp decodes header bytes with surrogateescape; keep them, never crash on them.
    digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()

    operator_key = request.app[SETTINGS].operator_api_key
    if operator_key and hmac.compare_digest(digest, hashlib.sha256(operator_key.encode()).digest()):
        return Principal("operator", None, "operator")

    parts = partners.split_token(token)
    row = await request.app[PARTNER_KEYS].find(request, parts[0]) if parts else None
    expected = row["key_hash"] if row else _DUMMY_HASH
    secret_hash = partners.hash_secret(parts[1] if parts else token)
    if (
        not hmac.compare_digest(secret_hash, expected)
        or parts is None
        or row is None
        or row["disabled_at"]
    ):
        raise unauthorized("The API key is not valid.")
    return Principal("partner", str(row["id"]), parts[0])


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
