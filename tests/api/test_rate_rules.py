"""One set of rules for every published rate: the operator's API and the feed
(`gold-platform feed`) both publish through services.rates.record, so the feed
refuses, and stores nothing for, every rate the API refuses."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from gold_platform import cli
from gold_platform.domain import feed
from gold_platform.domain.pricing import RatePrices
from tests.api.conftest import OPERATOR

# (buy, sell): what the API answers, as (problem type, field errors).
REFUSED = [
    pytest.param(
        "100.00",
        "200.00",
        ("validation-failed", [{"field": "sell_price", "message": "must not exceed buy_price"}]),
        id="sell-above-buy",
    ),
    pytest.param(
        "0.00",
        "0.00",
        (
            "validation-failed",
            [{"field": "buy_price|sell_price", "message": "must be greater than 0"}],
        ),
        id="zero-prices",
    ),
    pytest.param("999999999999.99", "1.00", ("above-maximum", None), id="price-with-tax-too-big"),
]


def run_feed(monkeypatch, settings, prices: list[RatePrices]) -> int:
    """`gold-platform feed --count N` against the test database, its walk replaced
    by `prices` (the command imports random_walk when it starts)."""
    monkeypatch.setattr(feed, "random_walk", lambda seed, tax_rate: iter(prices))
    for name, value in {
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "LOG_FORMAT": "json",
    }.items():
        monkeypatch.setenv(name, value)
    args = ["feed", "--count", str(len(prices)), "--interval", "0"]
    return cli.main(args)


@pytest.mark.parametrize(("buy", "sell", "refusal"), REFUSED)
async def test_the_feed_refuses_what_the_api_refuses(
    api, settings, sql, monkeypatch, capsys, buy, sell, refusal
):
    slug, errors = refusal
    body = await api.call(
        "POST",
        "/v1/admin/rates",
        headers=OPERATOR,
        json={"buy_price": buy, "sell_price": sell},
        expect=422,
    )
    assert body["type"].endswith("/" + slug)
    if errors is not None:
        assert body["errors"] == errors

    tax = Decimal(settings.buy_tax_rate)
    # In a thread: the command runs its own event loop (asyncio.run).
    status = await asyncio.to_thread(
        run_feed, monkeypatch, settings, [RatePrices(Decimal(buy), Decimal(sell), tax)]
    )
    assert status == 0  # a refused tick is logged and skipped; the feed carries on
    assert sql("SELECT count(*) FROM rates") == [(0,)]
    events = [json.loads(line)["event"] for line in capsys.readouterr().out.splitlines()]
    assert "rate_refused" in events


async def test_the_feed_publishes_what_the_rules_allow_and_skips_the_rest(
    api, settings, sql, monkeypatch
):
    tax = Decimal(settings.buy_tax_rate)
    prices = [
        RatePrices(Decimal("6000.00"), Decimal("5800.00"), tax),
        RatePrices(Decimal("6000.00"), Decimal("6000.01"), tax),  # refused: sell above buy
        RatePrices(Decimal("6001.00"), Decimal("5801.00"), tax),
    ]
    assert await asyncio.to_thread(run_feed, monkeypatch, settings, prices) == 0
    assert sql("SELECT buy_price, sell_price, source FROM rates ORDER BY published_at") == [
        (Decimal("6000.00"), Decimal("5800.00"), "simulated-feed:42"),
        (Decimal("6001.00"), Decimal("5801.00"), "simulated-feed:42"),
    ]
