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


async def test_a_user_trades_only_in_the_currency_their_account_was_opened_in(
    make_client, settings
):
    inr = await api_with(make_client, settings)
    inr_rate, partner, inr_user = await verified_customer(inr)
    await inr.trade(partner, "buy", inr_user["id"], inr_rate["rate_id"], amount="100.00")
    # The same ledger, now served with CURRENCY=USD.
    usd = await api_with(make_client, settings, currency="USD")
    usd_rate = await usd.publish_rate(buy="80.00", sell="78.00")
    refused = await usd.verify(
        partner, "buy", inr_user["id"], usd_rate["rate_id"], amount="100.00", expect=422
    )
    assert refused["type"].endswith("/currency-mismatch"), refused
    assert "in INR" in refused["detail"] and "trades USD" in refused["detail"]
    assert refused["status"] == 422
    usd_user = await usd.user(partner, "opened-under-usd", kyc=True)
    await usd.trade(partner, "buy", usd_user["id"], usd_rate["rate_id"], amount="100.00")
    # Each portfolio is in its user's currency, valued at that currency's rate.
    for user, currency, rate in ((inr_user, "INR", inr_rate), (usd_user, "USD", usd_rate)):
        portfolio = await usd.call(
            "GET", f"/v1/users/{user['id']}/portfolio", headers=partner.headers, expect=200
        )
        assert (portfolio["currency"], portfolio["valued_at_rate_id"]) == (
            currency,
            rate["rate_id"],
        )
        assert portfolio["invested_amount"] == "100.00"
    report = await usd.reconcile()
    assert report["balanced"] is True, report
    assert report["money"] == [
        {"currency": currency, "account": account, "total": total}
        for currency in ("INR", "USD")
        for account, total in (("treasury_money", "100.00"), ("user_money", "-100.00"))
    ]


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
