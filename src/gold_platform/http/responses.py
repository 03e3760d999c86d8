"""JSON responses serialised by orjson, several times faster than json.dumps
on a trade's or a portfolio's body. Bodies hold only strings, ints, bools,
None, lists and dicts: representations.py writes money, grams and times as
strings."""

from __future__ import annotations

import orjson
from aiohttp import web


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type="application/json"
    )
