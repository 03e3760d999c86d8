"""Rates (cache and history), history pagination, reconciliation after mixed trading."""

import asyncio
import json
import random
from decimal import Decimal

import redis as redis_sync

from gold_platform.services.rates import CurrentRate
from tests.api.conftest import OPERATOR


async def test_current_rate_is_served_from_redis_when_warm(api, partner, rate, sql, redis_url):
    first = await api.call("GET", "/v1/rates/current", headers=partner.headers, expect=200)
    assert first == rate
    redis = redis_sync.Redis.from_url(redis_url)
    assert json.loads(redis.get("rate:current:INR")) == rate
    # An entry only Redis holds (neither PostgreSQL nor the worker's own
    # half-second copy has it): once that copy has aged out, Redis answers.
    redis.set("rate:current:INR", json.dumps({**rate, "buy_price": "7777.00"}), keepttl=True)
    await asyncio.sleep(CurrentRate.LOCAL_TTL_SECONDS)
    served = await api.call("GET", "/v1/rates/current", headers=partner.headers)
    assert served["buy_price"] == "7777.00"
    # Without the cache entry, PostgreSQL answers (and refills it).
    sql("UPDATE rates SET buy_price = 1.00, sell_price = 1.00")
    redis.delete("rate:current:INR")
    await asyncio.sleep(CurrentRate.LOCAL_TTL_SECONDS)
    assert (await api.call("GET", "/v1/rates/current", headers=partner.headers))[
        "buy_price"
    ] == "1.00"
    assert json.loads(redis.get("rate:current:INR"))["buy_price"] == "1.00"


async def test_current_rate_without_redis_comes_from_postgresql(make_client, settings):
    from tests.api.conftest import Api

    client = await make_client(settings, redis_url=None)
    api = Api(client)
    rate = await api.publish_rate()
    partner = await api.partner()
    assert await api.call("GET", "/v1/rates/current", headers=partner.headers, expect=200) == rate


async def test_no_rate_yet_is_a_404_problem(api, partner):
    body = await api.call("GET", "/v1/rates/current", headers=partner.headers, expect=404)
    assert body["type"].endswith("/no-rate")


async def test_publish_validates_prices(api):
    bad = await api.call(
        "POST",
        "/v1/admin/rates",
        headers=OPERATOR,
        json={"buy_price": "100.00", "sell_price": "200.00"},
        expect=422,
    )
    assert bad["errors"] == [{"field": "sell_price", "message": "must not exceed buy_price"}]


async def test_rate_history_buckets_open_high_low_close(api, partner, sql):
    for buy in ("6000.00", "6100.00", "5900.00", "6050.00"):
        await api.publish_rate(buy=buy, sell="5000.00")
    # Spread them over two 1-minute buckets.
    sql("""UPDATE rates SET published_at = date_trunc('minute', now()) - interval '2 min'
                                          + (CASE WHEN buy_price IN (6000, 6100) THEN 10 ELSE 70 END
                                             + CASE WHEN buy_price IN (6000, 5900) THEN 0 ELSE 5 END)
                                            * interval '1 second'""")
    body = await api.call(
        "GET", "/v1/rates/history?interval=1m", headers=partner.headers, expect=200
    )
    buckets = body["buckets"]
    assert [b["samples"] for b in buckets] == [2, 2]
    assert buckets[0]["buy"] == {
        "open": "6000.00",
        "high": "6100.00",
        "low": "6000.00",
        "close": "6100.00",
    }
    assert buckets[1]["buy"] == {
        "open": "5900.00",
        "high": "6050.00",
        "low": "5900.00",
        "close": "6050.00",
    }
    too_many = await api.call(
        "GET",
        "/v1/rates/history?interval=1m&from=2020-01-01T00:00:00Z",
        headers=partner.headers,
        expect=422,
    )
    assert too_many["errors"][0]["field"] == "interval"


async def test_history_pages_have_no_gaps_or_repeats_while_rows_arrive(api, partner, rate):
    user = await api.user(partner, kyc=True)
    for _ in range(25):
        await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="100.00")
    existing = {
        tx["id"]
        for tx in (
            await api.call(
                "GET", f"/v1/users/{user['id']}/transactions?limit=100", headers=partner.headers
            )
        )["items"]
    }
    seen: list[str] = []
    cursor = None
    while True:
        query = f"limit=7&cursor={cursor}" if cursor else "limit=7"
        page = await api.call(
            "GET",
            f"/v1/users/{user['id']}/transactions?{query}",
            headers=partner.headers,
            expect=200,
        )
        seen += [tx["id"] for tx in page["items"]]
        # new trades arrive between page reads
        await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="100.00")
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert set(seen) == existing, "a row that existed when paging began was skipped"


async def test_history_filters(api, partner, rate):
    user = await api.user(partner, kyc=True)
    await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="1.0000")
    await api.verify(partner, "sell", user["id"], rate["rate_id"], grams="0.5000")
    base = f"/v1/users/{user['id']}/transactions"
    sells = await api.call("GET", f"{base}?side=sell", headers=partner.headers, expect=200)
    assert [t["side"] for t in sells["items"]] == ["sell"]
    confirmed = await api.call(
        "GET", f"{base}?status=confirmed", headers=partner.headers, expect=200
    )
    assert [t["status"] for t in confirmed["items"]] == ["confirmed"]
    bad = await api.call(
        "GET", f"{base}?cursor=bm90LWEtY3Vyc29y", headers=partner.headers, expect=422
    )
    assert bad["errors"][0]["field"] == "cursor"
    await api.call("GET", f"{base}?limit=0", headers=partner.headers, expect=422)


async def test_reconciliation_balances_after_a_mixed_workload(api, partner, rate):
    rng = random.Random(5)
    users = [await api.user(partner, f"u{i}", kyc=True) for i in range(5)]
    for _ in range(40):
        user = rng.choice(users)
        action = rng.choice(["buy-amount", "buy-grams", "sell", "cancel", "abandon"])
        if action.startswith("buy"):
            quantity = (
                {"amount": f"{rng.randint(10, 5000)}.{rng.randint(0, 99):02d}"}
                if action == "buy-amount"
                else {"grams": f"0.{rng.randint(17, 9999):04d}"}
            )
            await api.trade(partner, "buy", user["id"], rate["rate_id"], **quantity)
        elif action == "sell":
            held = (await api.call("GET", f"/v1/users/{user['id']}", headers=partner.headers))[
                "balance_grams"
            ]
            if held != "0.0000":
                await api.trade(
                    partner,
                    "sell",
                    user["id"],
                    rate["rate_id"],
                    grams=held if rng.random() < 0.3 else "0.0001",
                )
        elif action == "cancel":
            tx = await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="50.00")
            await api.call(
                "POST", f"/v1/transactions/{tx['id']}/cancel", headers=partner.headers, expect=200
            )
        else:
            await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="50.00")
    report = await api.reconcile()
    assert report["balanced"] is True, report
    assert all(v == 0 for v in report["checks"].values())
    balances = [
        (await api.call("GET", f"/v1/users/{u['id']}", headers=partner.headers))["balance_grams"]
        for u in users
    ]
    assert sum(Decimal(b) for b in balances) == Decimal(report["user_grams"])
    assert Decimal(report["vault_grams"]) == -Decimal(report["user_grams"])


async def test_concurrent_sell_confirms_never_oversell(api, partner, rate, sql):
    user = await api.user(partner, kyc=True)
    await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="1.0000")
    pending = [
        await api.verify(partner, "sell", user["id"], rate["rate_id"], grams="0.0300")
        for _ in range(60)
    ]
    results = await asyncio.gather(
        *(
            api.client.post(f"/v1/transactions/{tx['id']}/confirm", headers=partner.headers)
            for tx in pending
        )
    )
    statuses = sorted(r.status for r in results)
    confirmed = statuses.count(200)
    print(
        f"\n60 concurrent sell confirms of 0.03 g against 1 g: {confirmed} settled, "
        f"{statuses.count(409)} refused, others {[s for s in statuses if s not in (200, 409)]}"
    )
    assert confirmed == 33  # floor(1.0000 / 0.0300)
    assert statuses.count(409) == 27
    balance = sql(
        "SELECT balance FROM accounts WHERE user_id = %s AND kind = 'user_gold'", (user["id"],)
    )
    assert str(balance[0][0]) == "0.0100"
    assert (await api.reconcile())["balanced"] is True
