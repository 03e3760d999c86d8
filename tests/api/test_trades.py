"""Verify → confirm / cancel against real PostgreSQL: every rule of the product file."""

import asyncio
import uuid
from decimal import Decimal

from gold_platform.domain.money import grams as fmt_grams


async def test_sell_by_grams_and_by_amount_settle_at_the_locked_rate(api, partner, rate):
    user = await api.user(partner, kyc=True)
    await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="2.0000")
    by_grams = await api.verify(partner, "sell", user["id"], rate["rate_id"], grams="0.1234")
    assert (by_grams["total_amount"], by_grams["tax_amount"]) == ("715.72", "0.00")
    by_amount = await api.verify(partner, "sell", user["id"], rate["rate_id"], amount="1000.00")
    assert (by_amount["grams"], by_amount["total_amount"]) == ("0.1725", "1000.00")

    # A newer rate does not re-price the pending trades.
    await api.publish_rate(buy="7000.00", sell="6900.00")
    for tx in (by_grams, by_amount):
        done = await api.confirm(partner, tx["id"])
        assert done["total_amount"] == tx["total_amount"]
        assert done["price_per_gram"] == "5800.00"
    user = await api.call("GET", f"/v1/users/{user['id']}", headers=partner.headers, expect=200)
    assert user["balance_grams"] == fmt_grams(Decimal("2") - Decimal("0.1234") - Decimal("0.1725"))


async def test_expired_or_unknown_rate_is_refused_never_repriced(api, partner, rate, sql):
    user = await api.user(partner)
    sql(
        "UPDATE rates SET published_at = now() - interval '10 min', valid_until = now() - interval '1 s'"
    )
    expired = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="100.00", expect=409
    )
    assert expired["type"].endswith("/rate-expired")
    unknown = await api.verify(
        partner, "buy", user["id"], str(uuid.uuid4()), amount="100.00", expect=422
    )
    assert unknown["type"].endswith("/rate-not-found")
    assert sql("SELECT count(*) FROM transactions")[0][0] == 0


async def test_confirm_after_expiry_is_refused_and_reads_show_expired(api, partner, rate, sql):
    user = await api.user(partner)
    tx = await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="100.00")
    assert tx["expires_at"] > tx["created_at"]
    sql("UPDATE transactions SET expires_at = now() - interval '1 s' WHERE id = %s", (tx["id"],))
    refused = await api.confirm(partner, tx["id"], expect=409)
    assert refused["type"].endswith("/transaction-expired")
    shown = await api.call(
        "GET", f"/v1/transactions/{tx['id']}", headers=partner.headers, expect=200
    )
    assert shown["status"] == "expired"
    assert sql("SELECT count(*) FROM ledger_entries")[0][0] == 0


async def test_expiry_sweep_marks_overdue_trades(api, partner, rate, sql, client):
    from gold_platform.services.expiry import sweep_once
    from gold_platform.state import DB_POOL

    user = await api.user(partner)
    tx = await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="100.00")
    sql("UPDATE transactions SET expires_at = now() - interval '1 s'")
    assert await sweep_once(client.app[DB_POOL]) == 1
    assert sql("SELECT status FROM transactions WHERE id = %s", (tx["id"],)) == [("expired",)]


async def test_cancel_then_confirm_is_refused_and_cancel_is_repeatable(api, partner, rate):
    user = await api.user(partner)
    tx = await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="100.00")
    path = f"/v1/transactions/{tx['id']}/cancel"
    first = await api.call("POST", path, headers=partner.headers, expect=200)
    assert first["status"] == "cancelled"
    again = await api.call("POST", path, headers=partner.headers, expect=200)
    assert again == first
    refused = await api.confirm(partner, tx["id"], expect=409)
    assert refused["type"].endswith("/invalid-transition")


async def test_confirming_twice_returns_the_same_settled_trade(api, partner, rate, sql):
    user = await api.user(partner)
    tx = await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="100.00")
    first = await api.confirm(partner, tx["id"])
    second = await api.confirm(partner, tx["id"])
    assert first == second
    assert sql("SELECT count(*) FROM ledger_entries")[0][0] == 4
    cancel = await api.call(
        "POST", f"/v1/transactions/{tx['id']}/cancel", headers=partner.headers, expect=409
    )
    assert cancel["type"].endswith("/invalid-transition")


async def test_idempotency_key_replays_and_refuses_a_different_body(api, partner, rate, sql):
    user = await api.user(partner)
    key = {"Idempotency-Key": "order-1"}
    first = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="100.00", headers=key
    )
    replay = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="100.00", headers=key
    )
    assert replay == first
    assert sql("SELECT count(*) FROM transactions")[0][0] == 1
    reused = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="200.00", headers=key, expect=422
    )
    assert reused["type"].endswith("/idempotency-key-reused")
    # The same key on another route is a different request too.
    other = await api.verify(
        partner, "sell", user["id"], rate["rate_id"], amount="100.00", headers=key, expect=422
    )
    assert other["type"].endswith("/idempotency-key-reused")
    # Keys are per partner: another partner may use the same key freely.
    rival = await api.partner("rival")
    rival_user = await api.user(rival, "r-1")
    await api.verify(rival, "buy", rival_user["id"], rate["rate_id"], amount="100.00", headers=key)
    assert sql("SELECT count(*) FROM transactions")[0][0] == 2


async def test_a_failed_request_does_not_burn_its_key(api, partner, rate):
    user = await api.user(partner)
    key = {"Idempotency-Key": "sell-early"}
    refused = await api.verify(
        partner, "sell", user["id"], rate["rate_id"], grams="1.0000", headers=key, expect=409
    )
    assert refused["type"].endswith("/insufficient-balance")
    await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="1.0000")
    await api.verify(
        partner, "sell", user["id"], rate["rate_id"], grams="1.0000", headers=key, expect=201
    )


async def test_kyc_threshold_blocks_crossing_buys_until_attested(api, partner, rate):
    user = await api.user(partner)
    await api.trade(
        partner, "buy", user["id"], rate["rate_id"], grams="10.0000"
    )  # exactly 10 g: allowed
    refused = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], grams="0.0017", expect=422
    )
    assert refused["type"].endswith("/kyc-required")
    assert "KYC" in refused["detail"]
    verified = await api.call(
        "POST",
        f"/v1/users/{user['id']}/kyc",
        headers=partner.headers,
        json={"status": "verified"},
        expect=200,
    )
    assert verified["kyc_status"] == "verified"
    await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="0.0017")


async def test_kyc_is_checked_again_at_confirm(api, partner, rate):
    user = await api.user(partner)
    first = await api.verify(partner, "buy", user["id"], rate["rate_id"], grams="6.0000")
    second = await api.verify(partner, "buy", user["id"], rate["rate_id"], grams="6.0000")
    await api.confirm(partner, first["id"])
    refused = await api.confirm(partner, second["id"], expect=422)
    assert refused["type"].endswith("/kyc-required")


async def test_selling_more_than_held_is_refused_at_verify_and_at_confirm(api, partner, rate):
    user = await api.user(partner)
    await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="1.0000")
    a = await api.verify(partner, "sell", user["id"], rate["rate_id"], grams="0.6000")
    b = await api.verify(partner, "sell", user["id"], rate["rate_id"], grams="0.6000")
    await api.confirm(partner, a["id"])
    refused = await api.confirm(partner, b["id"], expect=409)
    assert refused["type"].endswith("/insufficient-balance")
    early = await api.verify(
        partner, "sell", user["id"], rate["rate_id"], grams="0.5000", expect=409
    )
    assert early["type"].endswith("/insufficient-balance")


async def test_below_minimum_and_bad_quantities(api, partner, rate):
    user = await api.user(partner)
    low = await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="9.99", expect=422)
    assert low["type"].endswith("/below-minimum")
    for quantity in ({"grams": "0"}, {"amount": "0.00"}):
        body = await api.verify(partner, "buy", user["id"], rate["rate_id"], expect=422, **quantity)
        assert body["errors"][0]["message"] == "must be greater than 0"
    both = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], expect=422, amount="100", grams="1"
    )
    assert both["errors"] == [
        {"field": "amount|grams", "message": "give exactly one of amount or grams"}
    ]
    precise = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], expect=422, grams="0.00001"
    )
    assert precise["errors"][0]["field"] == "grams"


async def test_partner_isolation_answers_404_like_a_missing_id(api, partner, rate):
    user = await api.user(partner, kyc=True)
    tx = await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="1.0000")
    rival = await api.partner("rival")
    missing_user, missing_tx = str(uuid.uuid4()), str(uuid.uuid4())
    for path_theirs, path_missing in [
        (f"/v1/users/{user['id']}", f"/v1/users/{missing_user}"),
        (f"/v1/users/{user['id']}/portfolio", f"/v1/users/{missing_user}/portfolio"),
        (f"/v1/users/{user['id']}/transactions", f"/v1/users/{missing_user}/transactions"),
        (f"/v1/transactions/{tx['id']}", f"/v1/transactions/{missing_tx}"),
    ]:
        theirs = await api.call("GET", path_theirs, headers=rival.headers, expect=404)
        missing = await api.call("GET", path_missing, headers=rival.headers, expect=404)
        assert {k: v for k, v in theirs.items() if k != "instance"} == {
            k: v for k, v in missing.items() if k != "instance"
        }
    for action in ("confirm", "cancel"):
        await api.call(
            "POST", f"/v1/transactions/{tx['id']}/{action}", headers=rival.headers, expect=404
        )
    await api.verify(rival, "sell", user["id"], rate["rate_id"], grams="0.1000", expect=404)
    await api.call(
        "POST",
        f"/v1/users/{user['id']}/kyc",
        headers=rival.headers,
        json={"status": "verified"},
        expect=404,
    )
    # same external_id under another partner is another user
    twin = await api.user(rival, user["external_id"])
    assert twin["id"] != user["id"]


async def test_creating_a_user_twice_returns_the_same_user(api, partner):
    first = await api.call(
        "POST", "/v1/users", headers=partner.headers, json={"external_id": "bob"}, expect=201
    )
    again = await api.call(
        "POST", "/v1/users", headers=partner.headers, json={"external_id": "bob"}, expect=200
    )
    assert again == first


async def test_settle_and_cancel_statements_change_only_a_pending_trade(api, partner, rate, client):
    from gold_platform.db import transaction
    from gold_platform.domain.ledger import settlement_postings
    from gold_platform.state import DB_POOL
    from gold_platform.store import transactions, users

    user = await api.user(partner)
    tx = await api.verify(partner, "buy", user["id"], rate["rate_id"], grams="1.0000")
    await api.call("POST", f"/v1/transactions/{tx['id']}/cancel", headers=partner.headers)
    async with transaction(client.app[DB_POOL]) as cur:
        holding = await users.lock_holding(cur, partner.id, user["id"])
        settled = await transactions.settle(
            cur,
            tx["id"],
            {"user_gold": holding["gold_account_id"], "user_money": holding["money_account_id"]},
            settlement_postings("buy", Decimal("1.0000"), Decimal(tx["total_amount"]), "INR"),
            cost_basis=Decimal(tx["total_amount"]),
        )
        assert settled is None
        again = await users.lock_holding(cur, partner.id, user["id"])
        assert again == holding  # no balance moved
        await cur.execute("SELECT count(*) AS entries FROM ledger_entries")
        assert (await cur.fetchone())["entries"] == 0
        assert await transactions.cancel(cur, tx["id"]) is None
    shown = await api.call("GET", f"/v1/transactions/{tx['id']}", headers=partner.headers)
    assert shown["status"] == "cancelled"


async def test_racing_confirms_and_cancels_settle_or_cancel_each_trade_once(
    api, partner, rate, sql
):
    user = await api.user(partner, kyc=True)
    pending = [
        await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="100.00")
        for _ in range(10)
    ]
    actions = [
        api.client.post(f"/v1/transactions/{tx['id']}/{action}", headers=partner.headers)
        for tx in pending
        for action in ("confirm", "cancel", "confirm", "cancel")
    ]
    answers = [(r.status, await r.json()) for r in await asyncio.gather(*actions)]
    assert {status for status, _ in answers} <= {200, 409}, answers
    by_trade: dict[str, set[str]] = {}
    for status, body in answers:
        if status == 200:
            by_trade.setdefault(body["id"], set()).add(body["status"])
        else:
            assert body["type"].endswith("/invalid-transition"), body
    # every trade ended one way, and every success reported that one way
    assert all(len(outcomes) == 1 for outcomes in by_trade.values()), by_trade
    confirmed = sql("SELECT count(*) FROM transactions WHERE status = 'confirmed'")[0][0]
    assert sql("SELECT count(*) FROM ledger_entries")[0][0] == 4 * confirmed
    assert sql("SELECT count(*) FROM transactions WHERE status = 'pending'")[0][0] == 0
    assert (await api.reconcile())["balanced"] is True


async def test_idempotency_keys_replay_inside_their_window_and_are_purged_after(
    api, partner, rate, sql, client
):
    from gold_platform.services.idempotency import PURGE_BATCH, purge_once
    from gold_platform.state import DB_POOL, SETTINGS

    ttl = client.app[SETTINGS].idempotency_key_ttl_hours
    user = await api.user(partner)
    recent, old = {"Idempotency-Key": "recent"}, {"Idempotency-Key": "old"}
    first_recent = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="100.00", headers=recent
    )
    first_old = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="100.00", headers=old
    )
    # Just inside and just outside the window, and more old keys than one batch.
    sql(
        "UPDATE idempotency_keys SET created_at = now() - make_interval(hours => %s)"
        " + CASE key WHEN 'recent' THEN interval '1 min' ELSE interval '-1 min' END",
        (ttl,),
    )
    sql(
        "INSERT INTO idempotency_keys (partner_id, key, request_hash, response_status,"
        " response_body, created_at) SELECT %s, 'bulk-' || i, '\\x00', 201, '{}',"
        " now() - make_interval(hours => %s + 1) FROM generate_series(1, %s) i",
        (partner.id, ttl, PURGE_BATCH + 1),
    )
    assert await purge_once(client.app[DB_POOL], ttl) == PURGE_BATCH + 2
    assert sql("SELECT key FROM idempotency_keys") == [("recent",)]

    replay = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="100.00", headers=recent
    )
    assert replay == first_recent
    # The purged key is free again, even for another request.
    reused = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="200.00", headers=old
    )
    assert reused["id"] != first_old["id"]
    assert sql("SELECT count(*) FROM transactions")[0][0] == 3
