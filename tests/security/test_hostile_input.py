"""Hostile input on every route that takes a body, a query or a path id: malformed
JSON, huge or deeply nested bodies, wrong content types, invalid UTF-8, NUL bytes
and SQL-injection strings. Every answer is a 4xx problem+json, and nothing is
stored except what a field legitimately allows (stored verbatim, never run)."""

from __future__ import annotations

import json

import pytest

from tests.reliability.helpers import OPERATOR, PROBLEM_JSON, show_figures, table_counts

INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    '" OR ""="',
    "1; SELECT pg_sleep(5)--",
    "') UNION SELECT key_hash FROM partners--",
    "$$; DELETE FROM ledger_entries; $$",
    "\\'; TRUNCATE transactions CASCADE; --",
    "%' AND 1=1 AND '%'='",
]


def body_routes(world) -> list[tuple[str, str, dict, dict]]:
    """(method, path, headers, a valid body) for every route that reads JSON."""
    a = world.alice.headers
    user, rate = world.alice_user["id"], world.rate["rate_id"]
    return [
        ("POST", "/v1/admin/partners", OPERATOR, {"name": "new-partner"}),
        ("POST", "/v1/admin/rates", OPERATOR, {"buy_price": "6100.00", "sell_price": "6000.00"}),
        ("POST", "/v1/users", a, {"external_id": "new-user"}),
        ("POST", f"/v1/users/{user}/kyc", a, {"status": "verified"}),
        ("POST", "/v1/transactions/buy", a, {"user_id": user, "rate_id": rate, "grams": "0.5"}),
        ("POST", "/v1/transactions/sell", a, {"user_id": user, "rate_id": rate, "grams": "0.1"}),
    ]


async def _send(client, method, path, headers, *, data, content_type="application/json"):
    response = await client.request(
        method, path, headers={**headers, "Content-Type": content_type}, data=data
    )
    raw = await response.read()
    return response.status, response.content_type, raw


def _assert_problem(status, content_type, raw, allowed: set[int], label: str) -> dict:
    assert status in allowed, (label, status, raw[:300])
    assert content_type == PROBLEM_JSON, (label, content_type)
    body = json.loads(raw)
    assert body["status"] == status
    return body


MALFORMED = {
    "truncated": b'{"name": "x"',
    "trailing-garbage": b'{"name": "x"} extra',
    "single-quotes": b"{'name': 'x'}",
    "empty": b"",
    "nan": b'{"buy_price": NaN, "sell_price": Infinity}',
    "bom-only": b"\xef\xbb\xbf",
    "invalid-utf8": b'{"name": "\xff\xfe\xfa"}',
    "overlong-utf8": b'{"name": "\xc0\xaf"}',
    "utf16": '{"name": "x"}'.encode("utf-16"),
}
WRONG_SHAPES = {
    "array": b"[]",
    "number": b"42",
    "string": b'"x"',
    "null": b"null",
    "wrong-types": b'{"name": 5, "external_id": [], "status": {}, "buy_price": 1.5}',
    "extra-field": b'{"name": "x", "external_id": "x", "is_admin": true}',
}


async def test_malformed_and_wrongly_shaped_bodies(client, world, database_url):
    before = table_counts(database_url)
    seen: dict[str, set[int]] = {}
    for method, path, headers, _valid in body_routes(world):
        for label, data in MALFORMED.items():
            status, ctype, raw = await _send(client, method, path, headers, data=data)
            _assert_problem(status, ctype, raw, {400, 422}, f"{path} {label}")
            seen.setdefault(label, set()).add(status)
        for label, data in WRONG_SHAPES.items():
            status, ctype, raw = await _send(client, method, path, headers, data=data)
            _assert_problem(status, ctype, raw, {400, 422}, f"{path} {label}")
            seen.setdefault(label, set()).add(status)
    show_figures(f"\n[malformed] statuses by case: { {k: sorted(v) for k, v in seen.items()} }")
    assert table_counts(database_url) == before


async def test_wrong_content_types(client, world, database_url):
    before = table_counts(database_url)
    for method, path, headers, valid in body_routes(world):
        text = json.dumps(valid).encode()
        for content_type in (
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            "application/json-patch+json",
        ):
            status, ctype, raw = await _send(
                client, method, path, headers, data=text, content_type=content_type
            )
            _assert_problem(status, ctype, raw, {415}, f"{path} {content_type}")
    assert table_counts(database_url) == before


async def test_huge_bodies_are_refused(client, world, database_url, settings):
    before = table_counts(database_url)
    limit = settings.max_body_bytes
    for method, path, headers, _valid in body_routes(world):
        padding = "x" * (limit + 1024)
        data = json.dumps({"name": padding, "external_id": padding}).encode()
        status, ctype, raw = await _send(client, method, path, headers, data=data)
        _assert_problem(status, ctype, raw, {413}, f"{path} huge")
        # Big but within the limit: refused by validation (fields are bounded).
        data = json.dumps({"name": "y" * (limit // 3), "external_id": "y" * (limit // 3)})
        status, ctype, raw = await _send(client, method, path, headers, data=data.encode())
        _assert_problem(status, ctype, raw, {422}, f"{path} big")
    show_figures(f"\n[huge] limit={limit} bytes: 413 above it, 422 for oversized fields below it")
    assert table_counts(database_url) == before


@pytest.mark.parametrize("depth", [100, 5_000, 30_000])  # BUG-1 (fixed in 8a6001c)
async def test_deeply_nested_json(client, world, database_url, depth):
    """A nesting bomb fits easily under MAX_BODY_BYTES; it must be a 4xx, not a crash."""
    before = table_counts(database_url)
    data = b"[" * depth + b"]" * depth
    for method, path, headers, _valid in body_routes(world):
        status, ctype, raw = await _send(client, method, path, headers, data=data)
        _assert_problem(status, ctype, raw, {400, 422}, f"{path} nested depth={depth}")
    assert table_counts(database_url) == before


async def test_nul_and_unpaired_surrogates_in_strings(client, world, database_url):
    """Valid JSON that PostgreSQL cannot store in a text column."""
    before = table_counts(database_url)
    outcomes = {}
    for method, path, headers, valid in body_routes(world):
        for label, value in (("nul", "a\u0000b"), ("surrogate", "a\ud800b")):
            body = {k: value if k in ("name", "external_id") else v for k, v in valid.items()}
            data = json.dumps(body).encode()  # ensure_ascii: \u0000 / \ud800 escapes
            status, _ctype, _raw = await _send(client, method, path, headers, data=data)
            outcomes[f"{path} {label}"] = status
    show_figures(f"\n[nul-surrogate] {outcomes}")
    for where, status in outcomes.items():
        if where.startswith(("/v1/admin/partners ", "/v1/users ")):  # BUG-2 (fixed)
            assert status in (400, 422), (where, status)
        else:  # no free-text field on this route: the body is otherwise valid
            assert status < 500, (where, status)
    # Only the routes without a text field may have changed anything (a rate, a trade).
    after = table_counts(database_url)
    assert after["partners"] == before["partners"]
    assert after["users"] == before["users"]


@pytest.mark.parametrize("value", ["a\u0000b", "a\ud800b"], ids=["nul", "surrogate"])
async def test_partner_name_with_nul_or_surrogate(client, database_url, value):
    """BUG-2 (fixed in 8a6001c): these reached psycopg2 and gave 500."""
    before = table_counts(database_url)
    status, ctype, raw = await _send(
        client, "POST", "/v1/admin/partners", OPERATOR, data=json.dumps({"name": value}).encode()
    )
    show_figures(f"\n[partner-name] {value!r}: {status}")
    _assert_problem(status, ctype, raw, {400, 422}, f"partner name {value!r}")
    assert table_counts(database_url) == before


async def test_sql_injection_in_every_text_field(client, world, database_url):
    before = table_counts(database_url)
    user, rate = world.alice_user["id"], world.rate["rate_id"]
    a = world.alice.headers
    statuses: dict[str, set[int]] = {}

    def note(where: str, status: int) -> None:
        statuses.setdefault(where, set()).add(status)

    for attack in INJECTIONS:
        # Formatted fields: refused by validation.
        cases = [
            ("POST", "/v1/users", a, {"external_id": attack}),
            ("POST", f"/v1/users/{user}/kyc", a, {"status": attack}),
            ("POST", "/v1/admin/rates", OPERATOR, {"buy_price": attack, "sell_price": "1.00"}),
            ("POST", "/v1/admin/rates", OPERATOR, {"buy_price": "2.00", "sell_price": attack}),
            (
                "POST",
                "/v1/admin/rates",
                OPERATOR,
                {"buy_price": "2", "sell_price": "1", "tax_rate": attack},
            ),
            ("POST", "/v1/transactions/buy", a, {"user_id": attack, "rate_id": rate, "grams": "1"}),
            ("POST", "/v1/transactions/buy", a, {"user_id": user, "rate_id": attack, "grams": "1"}),
            (
                "POST",
                "/v1/transactions/sell",
                a,
                {"user_id": user, "rate_id": rate, "grams": attack},
            ),
            (
                "POST",
                "/v1/transactions/buy",
                a,
                {"user_id": user, "rate_id": rate, "amount": attack},
            ),
        ]
        for method, path, headers, body in cases:
            reply = await world.api.call(method, path, headers=headers, json=body)
            assert reply.status == 422, (path, body, reply.status, reply.body)
            assert reply.content_type == PROBLEM_JSON
            note(f"body {path}", reply.status)
        # Query parameters.
        for path, params in (
            (f"/v1/users/{user}/transactions", {"side": attack}),
            (f"/v1/users/{user}/transactions", {"status": attack}),
            (f"/v1/users/{user}/transactions", {"cursor": attack}),
            (f"/v1/users/{user}/transactions", {"limit": attack}),
            ("/v1/rates/history", {"interval": attack}),
            ("/v1/rates/history", {"from": attack}),
            ("/v1/rates/history", {"to": attack}),
        ):
            reply = await world.api.call("GET", path, headers=a, params=params)
            assert reply.status == 422, (path, params, reply.status, reply.body)
            note(f"query {path} {next(iter(params))}", reply.status)
        # Path ids.
        quoted = attack.replace("/", "%2F").replace("%'", "%25'").replace("?", "%3F")
        for template in (
            "/v1/users/{}",
            "/v1/users/{}/portfolio",
            "/v1/users/{}/transactions",
            "/v1/transactions/{}",
        ):
            reply = await world.api.call("GET", template.format(quoted), headers=a)
            assert reply.status == 404, (template, attack, reply.status, reply.body)
            note(f"path {template}", reply.status)
        for template in ("/v1/transactions/{}/confirm", "/v1/transactions/{}/cancel"):
            reply = await world.api.call("POST", template.format(quoted), headers=a)
            assert reply.status == 404, (template, attack, reply.status)
            note(f"path {template}", reply.status)

    show_figures(
        f"\n[sql-injection] {len(INJECTIONS)} strings; statuses: { {k: sorted(v) for k, v in statuses.items()} }"
    )
    assert table_counts(database_url) == before, "an injection attempt stored something"


async def test_free_text_is_stored_verbatim_never_executed(client, world, database_url):
    """Partner names and Idempotency-Keys are free text: an injection string is just a
    name, stored as given, and every table is intact afterwards."""
    before = table_counts(database_url)
    for index, attack in enumerate(INJECTIONS):
        reply = await world.api.call(
            "POST", "/v1/admin/partners", headers=OPERATOR, json={"name": attack}
        )
        assert reply.status == 201, reply.body
        assert reply.body["name"] == attack
        key_reply = await world.api.call(
            "POST",
            "/v1/users",
            headers={**world.alice.headers, "Idempotency-Key": attack},
            json={"external_id": f"idem-{index}"},
        )
        assert key_reply.status == 201, key_reply.body
    after = table_counts(database_url)
    show_figures(f"\n[free-text] before={before} after={after}")
    assert after["partners"] == before["partners"] + len(INJECTIONS)
    assert after["users"] == before["users"] + len(INJECTIONS)
    assert after["idempotency_keys"] == before["idempotency_keys"] + len(INJECTIONS)
    for table in ("rates", "transactions", "ledger_entries"):
        assert after[table] == before[table]
    reconciliation = await world.api.reconcile()
    assert reconciliation["balanced"] is True
