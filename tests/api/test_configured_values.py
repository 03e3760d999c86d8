"""Each business setting, changed from its default, changes what the API does."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.api.conftest import Api


async def api_with(make_client, settings, **changes) -> Api:
    return Api(await make_client(settings, **changes))


async def verified_customer(api: Api):
    """A published rate, a partner and its KYC-verified customer."""
    rate = await api.publish_rate()
    partner = await api.partner()
    return rate, partner, await api.user(partner, kyc=True)


async def test_currency_names_the_rates_and_portfolios(make_client, settings):
    api = await api_with(make_client, settings, currency="USD")
    rate = await api.publish_rate()
    assert rate["currency"] == "USD"
    partner = await api.partner()
    assert (await api.call("GET", "/v1/rates/current", headers=partner.headers))["rate_id"] == (
        rate["rate_id"]
    )
    user = await api.user(partner, kyc=True)
    await api.trade(partner, "buy", user["id"], rate["rate_id"], amount="100.00")
    portfolio = await api.call(
        "GET", f"/v1/users/{user['id']}/portfolio", headers=partner.headers, expect=200
    )
    assert portfolio["currency"] == "USD"


async def test_buy_tax_rate_is_what_a_published_rate_carries(make_client, settings):
    api = await api_with(make_client, settings, buy_tax_rate=Decimal("0.0500"))
    rate = await api.publish_rate(buy="6000.00")
    assert Decimal(rate["tax_rate"]) == Decimal("0.05")
    assert rate["buy_price_with_tax"] == "6300.00"


async def test_min_buy_amount_is_the_smallest_buy(make_client, settings):
    api = await api_with(make_client, settings, min_buy_amount=Decimal("500.00"))
    rate, partner, user = await verified_customer(api)
    refused = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="499.99", expect=422
    )
    assert refused["type"].endswith("/below-minimum")
    await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="500.00", expect=201)


async def test_kyc_threshold_grams_is_where_kyc_becomes_required(make_client, settings):
    api = await api_with(make_client, settings, kyc_threshold_grams=Decimal("1"))
    rate = await api.publish_rate(buy="1000.00", sell="970.00")
    partner = await api.partner()
    user = await api.user(partner)  # not KYC-verified
    await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="0.5000")
    refused = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], grams="0.6000", expect=None
    )
    assert refused["type"].endswith("/kyc-required"), refused


async def test_trade_expiry_seconds_bounds_the_time_to_confirm(make_client, settings):
    api = await api_with(make_client, settings, trade_expiry_seconds=1)
    rate, partner, user = await verified_customer(api)
    tx = await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="100.00")
    await asyncio.sleep(1.5)
    late = await api.confirm(partner, tx["id"], expect=None)
    assert late["type"].endswith("/transaction-expired"), late


async def test_rate_validity_seconds_bounds_how_long_a_rate_locks(make_client, settings):
    api = await api_with(make_client, settings, rate_validity_seconds=1)
    rate, partner, user = await verified_customer(api)
    await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="100.00", expect=201)
    await asyncio.sleep(1.5)
    stale = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="100.00", expect=None
    )
    assert stale["type"].endswith("/rate-expired"), stale
