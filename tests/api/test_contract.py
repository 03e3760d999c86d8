"""The OpenAPI document matches the routes; bodies are validated against it."""

import asyncio
import time

import jsonschema
import pytest

from gold_platform.http.openapi import OPERATIONS, document
from gold_platform.routes import API_ROUTES
from tests.api.conftest import OPERATOR


def test_every_route_is_documented_and_every_documented_route_exists(client):
    served = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource.canonical.startswith("/v1/")
        and route.method != "HEAD"
        and not route.resource.canonical.startswith(("/v1/docs", "/v1/openapi.json"))
    }
    assert served == set(OPERATIONS)
    assert set(API_ROUTES) == set(OPERATIONS)


def test_document_is_valid_openapi_31_shape():
    doc = document()
    assert doc["openapi"] == "3.1.0"
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"].rsplit("/", 1)[1])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    assert refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


async def test_document_and_docs_page_are_served_locally(client):
    response = await client.get("/v1/openapi.json")
    assert response.status == 200
    assert (await response.json())["paths"].keys() == document()["paths"].keys()
    page = await client.get("/v1/docs")
    html = await page.text()
    assert (
        page.status == 200
        and "swagger-ui-bundle.js" in html
        and "http" not in html.split("<body>")[1]
    )
    bundle = await client.get("/v1/docs/static/swagger-ui-bundle.js")
    assert bundle.status == 200
    assert len(await bundle.read()) > 100_000


async def test_responses_match_their_documented_schemas(api, partner, rate):
    doc = document()
    schemas = doc["components"]["schemas"]
    resolver_root = {"components": {"schemas": schemas}}

    def check(body, name):
        schema = {**schemas[name], "components": resolver_root["components"]}
        jsonschema.validate(body, schema)

    user = await api.user(partner, kyc=True)
    check(user, "User")
    check(rate, "Rate")
    tx = await api.trade(partner, "buy", user["id"], rate["rate_id"], amount="1000.00")
    check(tx, "Transaction")
    page = await api.call("GET", f"/v1/users/{user['id']}/transactions", headers=partner.headers)
    check(page, "TransactionPage")
    check(
        await api.call("GET", f"/v1/users/{user['id']}/portfolio", headers=partner.headers),
        "Portfolio",
    )
    check(await api.reconcile(), "Reconciliation")
    check(await api.call("GET", "/v1/rates/history", headers=partner.headers), "RateHistory")
    check(await api.call("GET", "/v1/users/nope", headers=partner.headers, expect=404), "Problem")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"external_id": "a", "admin": True}, "admin", "unknown field"),
        (
            {"external_id": 5},
            "external_id",
            'must be 1 to 128 letters, digits or . _ : @ -, as a string such as "cust-42",'
            " not a number",
        ),
        ({}, "external_id", "is required"),
        ({"external_id": "x" * 129}, "external_id", None),
        ({"external_id": "a'; DROP TABLE users; --"}, "external_id", None),
    ],
)
async def test_invalid_bodies_get_field_errors(api, partner, sql, body, field, message):
    problem = await api.call("POST", "/v1/users", headers=partner.headers, json=body, expect=422)
    assert problem["type"].endswith("/validation-failed")
    assert problem["errors"][0]["field"] == field
    if message:
        assert problem["errors"][0]["message"] == message
    assert sql("SELECT count(*) FROM users")[0][0] == 0


async def test_malformed_bodies_are_4xx_problems(client, partner, sql):
    headers = {**partner.headers, "Content-Type": "application/json"}
    cases = [
        (b'{"external_id": ', headers, 400, "malformed-json"),
        (b'{"external_id": "\xff\xfe"}', headers, 400, "malformed-json"),
        (b'{"external_id": NaN}', headers, 400, "malformed-json"),
        (
            b"external_id=a",
            {**partner.headers, "Content-Type": "application/x-www-form-urlencoded"},
            415,
            "unsupported-media-type",
        ),
        (b'{"external_id": "' + b"a" * 70_000 + b'"}', headers, 413, "payload-too-large"),
    ]
    for data, hdrs, status, slug in cases:
        response = await client.post("/v1/users", data=data, headers=hdrs)
        assert response.status == status, (data[:30], await response.text())
        assert response.content_type == "application/problem+json"
        assert (await response.json())["type"].endswith(slug)
    assert sql("SELECT count(*) FROM users")[0][0] == 0


async def test_keys_are_required_and_roles_enforced(api, partner):
    unauthenticated = await api.call("GET", "/v1/rates/current", expect=401)
    assert unauthenticated["type"].endswith("/unauthorized")
    await api.call(
        "GET",
        "/v1/rates/current",
        headers={"Authorization": "Bearer gp_0000000000000000_x"},
        expect=401,
    )
    forged = partner.key[:-3] + ("aaa" if not partner.key.endswith("aaa") else "bbb")
    await api.call(
        "GET", "/v1/rates/current", headers={"Authorization": f"Bearer {forged}"}, expect=401
    )
    forbidden = await api.call(
        "POST",
        "/v1/admin/rates",
        headers=partner.headers,
        json={"buy_price": "1.00", "sell_price": "1.00"},
        expect=403,
    )
    assert forbidden["type"].endswith("/forbidden")
    await api.call("GET", "/v1/admin/reconciliation", headers=partner.headers, expect=403)
    await api.call("POST", "/v1/users", headers=OPERATOR, json={"external_id": "x"}, expect=403)


async def test_rate_limit_answers_429_with_retry_after(make_client, settings):
    from tests.api.conftest import Api

    api = Api(await make_client(settings, rate_limit_per_minute=5))
    partner = await api.partner()
    if time.time() % 60 > 55:  # keep all seven requests inside one one-minute window
        await asyncio.sleep(61 - time.time() % 60)
    statuses = []
    for _ in range(7):
        response = await api.client.get("/v1/users/nope", headers=partner.headers)
        statuses.append(response.status)
    assert statuses == [404] * 5 + [429] * 2
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert (await response.json())["type"].endswith("/rate-limited")
