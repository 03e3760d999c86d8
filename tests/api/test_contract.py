"""The OpenAPI document matches the routes; bodies are validated against it."""

import asyncio
import configparser
import time
from decimal import Decimal
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from gold_platform import __version__
from gold_platform.domain.money import MAX_GRAMS, MAX_MONEY
from gold_platform.domain.portfolio import MAX_AVERAGE_PRICE, MAX_VALUE
from gold_platform.http.openapi import DOCUMENT_FILE, OPERATIONS, document, resolve
from gold_platform.http.rates import INTERVALS
from gold_platform.routes import API_ROUTES, HANDLERS
from gold_platform.store.transactions import STATUSES
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
    # routes.py maps every operationId, and nothing else, to a handler.
    assert set(HANDLERS) == {operation["operationId"] for operation in OPERATIONS.values()}


def test_document_is_valid_openapi_31_shape():
    doc = document()
    assert doc["openapi"] == "3.1.0"
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    for ref in refs:
        assert ref.startswith("#/components/"), ref
        assert isinstance(resolve({"$ref": ref}, doc), dict), ref
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def decimal_pattern(maximum: Decimal | None, places: int, *, signed: bool = False) -> str:
    """Decimal strings up to `maximum`'s integer digits (any number without one)."""
    more = "*" if maximum is None else f"{{0,{len(str(int(maximum))) - 1}}}"
    sign = "-?" if signed else ""
    return rf"^{sign}(0|[1-9][0-9]{more})(\.[0-9]{{1,{places}}})?$"


def test_the_documents_figures_are_the_domains_limits():
    """openapi.yaml states the patterns; the domain's constants are what they must say."""
    schemas = document()["components"]["schemas"]
    digits = {"Money": len(str(int(MAX_MONEY))), "Grams": len(str(int(MAX_GRAMS)))}
    assert schemas["Money"]["pattern"] == decimal_pattern(MAX_MONEY, 2)
    assert schemas["Grams"]["pattern"] == decimal_pattern(MAX_GRAMS, 4)
    for name, count in digits.items():
        assert f"at most {count} digits before the point" in schemas[name]["x-expected"]
    portfolio = schemas["Portfolio"]["properties"]
    assert portfolio["average_buy_price"]["pattern"] == decimal_pattern(MAX_AVERAGE_PRICE, 2)
    assert portfolio["current_value"]["pattern"] == decimal_pattern(MAX_VALUE, 2)
    assert portfolio["unrealised_pnl"]["pattern"] == decimal_pattern(MAX_VALUE, 2, signed=True)
    reconciliation = schemas["Reconciliation"]["properties"]
    for field in ("user_grams", "vault_grams"):
        assert reconciliation[field]["pattern"] == decimal_pattern(None, 4, signed=True)
    total = reconciliation["money"]["items"]["properties"]["total"]
    assert total["pattern"] == decimal_pattern(None, 2, signed=True)


def test_the_documents_choices_are_the_codes():
    doc = document()
    assert doc["info"]["version"] == __version__
    history = OPERATIONS[("GET", "/v1/rates/history")]["parameters"]
    interval = next(p for p in history if p["name"] == "interval")["schema"]
    assert interval["enum"] == list(INTERVALS)
    listing = OPERATIONS[("GET", "/v1/users/{user_id}/transactions")]["parameters"]
    status = next(p for p in listing if p.get("name") == "status")["schema"]
    assert sorted(status["enum"]) == sorted(STATUSES)


def test_the_document_is_package_data():
    """The one file is what the installed package (and so the image) reads."""
    config = configparser.ConfigParser()
    config.read(Path(__file__).parents[2] / "setup.cfg")
    data = config["options.package_data"]["gold_platform"]
    assert "http/openapi.yaml" in [entry.strip() for entry in data.split(",")]
    assert resources.files("gold_platform.http").joinpath(DOCUMENT_FILE).is_file()


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
