"""Every figure the API returns fits its documented schema; what would not fit
is refused with 422 problem+json and nothing is stored."""

import jsonschema

from gold_platform.http.openapi import document
from tests.api.conftest import OPERATOR

SCHEMAS = document()["components"]["schemas"]


def check(body: dict, name: str) -> None:
    jsonschema.validate(body, {**SCHEMAS[name], "components": {"schemas": SCHEMAS}})


async def test_a_buy_at_a_tiny_price_cannot_answer_more_grams_than_the_schema_allows(
    api, partner, sql
):
    rate = await api.publish_rate("0.01", "0.01", tax_rate="0")
    user = await api.user(partner, kyc=True)
    refused = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="999999999999.99", expect=422
    )
    assert refused["type"].endswith("/above-maximum"), refused
    assert "999999999.9999 g" in refused["detail"]
    assert sql("SELECT count(*) FROM transactions")[0][0] == 0
    # The largest buy that fits is answered, and fits its schema.
    tx = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="9999999.99", expect=201
    )
    check(tx, "Transaction")


async def test_a_rate_whose_price_with_tax_would_not_fit_is_refused(api, sql):
    problem = await api.call(
        "POST",
        "/v1/admin/rates",
        headers=OPERATOR,
        json={"buy_price": "999999999999.99", "sell_price": "1.00", "tax_rate": "0.03"},
        expect=422,
    )
    assert problem["type"].endswith("/above-maximum"), problem
    assert sql("SELECT count(*) FROM rates")[0][0] == 0
    check(await api.publish_rate("970873786407.75", "1.00", tax_rate="0.03"), "Rate")


async def test_a_holding_stays_within_what_the_api_can_show(api, partner, sql):
    rate = await api.publish_rate("1.00", "1.00", tax_rate="0")
    user = await api.user(partner, kyc=True)
    await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="999999990.0000")
    refused = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], grams="10.0000", expect=422
    )
    assert refused["type"].endswith("/above-maximum"), refused
    # Two buys that each fit, verified before either settled: the second is refused at confirm.
    other = await api.user(partner, "other", kyc=True)
    first, second = [
        await api.verify(partner, "buy", other["id"], rate["rate_id"], grams="600000000.0000")
        for _ in range(2)
    ]
    await api.confirm(partner, first["id"])
    late = await api.confirm(partner, second["id"], expect=422)
    assert late["type"].endswith("/above-maximum"), late
    assert sql("SELECT count(*) FROM transactions WHERE status = 'confirmed'")[0][0] == 2

    # At the highest price the API allows, the holding's figures still fit.
    await api.publish_rate("999999999999.99", "999999999999.99", tax_rate="0")
    portfolio = await api.call(
        "GET", f"/v1/users/{user['id']}/portfolio", headers=partner.headers, expect=200
    )
    check(portfolio, "Portfolio")
    assert portfolio["current_value"] == "999999989999990000000.10"
    check(await api.reconcile(), "Reconciliation")


async def test_the_amount_invested_in_a_holding_stays_within_an_amount(api, partner, sql):
    rate = await api.publish_rate("999999.99", "999999.99", tax_rate="0")
    user = await api.user(partner, kyc=True)
    await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="1000000.0000")
    refused = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], grams="1.0000", expect=422
    )
    assert refused["type"].endswith("/above-maximum"), refused
    assert "invested" in refused["detail"]
    assert sql("SELECT count(*) FROM transactions")[0][0] == 1
