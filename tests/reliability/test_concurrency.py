"""Races against the real server (gunicorn, two worker processes): many confirms
against one balance, and many copies of one request under one Idempotency-Key."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

import aiohttp
import psycopg2
import pytest

from tests.reliability.helpers import Api, service_env, session_for, show_figures
from tests.running_service import running_service, wait_until_ready

pytestmark = pytest.mark.slow


async def _bounded(coros, limit: int):
    gate = asyncio.Semaphore(limit)

    async def run(coro):
        async with gate:
            return await coro

    return await asyncio.gather(*(run(c) for c in coros))


def _wide_session(base_url: str, connections: int) -> aiohttp.ClientSession:
    """One connection per concurrent request, spread over the workers by the kernel."""
    return aiohttp.ClientSession(
        base_url=base_url,
        connector=aiohttp.TCPConnector(limit=connections, force_close=True),
        timeout=aiohttp.ClientTimeout(total=60),
    )


@pytest.fixture
def service(database_url, redis_url, tmp_path: Path):
    env = service_env(
        database_url,
        redis_url,
        DATABASE_POOL_SIZE="10",
        DATABASE_MAX_OVERFLOW="10",
        RATE_LIMIT_PER_MINUTE="100000",
    )
    with running_service(env, tmp_path, workers=2) as running:
        wait_until_ready(running.base_url)
        yield running


async def test_concurrent_sell_confirms_never_overdraw(service, database_url):
    balance, lot, attempts = Decimal("10.0000"), Decimal("0.1000"), 200
    async with session_for(service.base_url) as session:
        api = Api(session)
        partner = await api.partner("race-sell")
        rate = await api.publish_rate()
        user = await api.user(partner, "u-race", kyc=True)
        await api.buy(partner, user["id"], rate["rate_id"], grams=str(balance))
        pending = await _bounded(
            [
                api.verify(partner, "sell", user["id"], rate["rate_id"], grams=str(lot))
                for _ in range(attempts)
            ],
            20,
        )
        assert {p.status for p in pending} == {201}, {p.status for p in pending}

    async with _wide_session(service.base_url, attempts) as session:
        api = Api(session)
        started = time.monotonic()
        replies = await asyncio.gather(*(api.confirm(partner, p.body["id"]) for p in pending))
        elapsed = time.monotonic() - started

    async with session_for(service.base_url) as session:
        api = Api(session)
        final = (await api.call("GET", f"/v1/users/{user['id']}", headers=partner.headers)).body
        reconciliation = await api.reconcile()

    confirmed = [r for r in replies if r.status == 200]
    refused = [r for r in replies if r.status == 409]
    others = [(r.status, r.body) for r in replies if r.status not in (200, 409)]
    sold = sum(Decimal(r.body["grams"]) for r in confirmed)
    show_figures(
        f"\n[sell-race] confirms={attempts} succeeded={len(confirmed)} "
        f"insufficient_balance={len(refused)} other={len(others)} seconds={elapsed:.2f} "
        f"balance_before={balance} sold={sold} balance_after={final['balance_grams']} "
        f"reconciliation_balanced={reconciliation['balanced']}"
    )
    assert not others, others[:3]
    assert len(confirmed) == int(balance / lot)
    assert sold == balance
    assert Decimal(final["balance_grams"]) == 0
    assert all(r.body["type"].endswith("/insufficient-balance") for r in refused)
    assert reconciliation["balanced"] is True, reconciliation
    assert reconciliation["checks"]["negative_balances"] == 0

    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT status, count(*) FROM transactions WHERE user_id = %s AND side = 'sell'"
            " GROUP BY status",
            (user["id"],),
        )
        by_status = dict(cur.fetchall())
        cur.execute("SELECT min(balance) FROM accounts WHERE kind = 'user_gold'")
        lowest = cur.fetchone()[0]
    conn.close()
    assert by_status == {"confirmed": len(confirmed), "pending": len(refused)}
    assert lowest >= 0


async def test_one_idempotency_key_one_transaction(service, database_url):
    copies = 50
    async with session_for(service.base_url) as session:
        api = Api(session)
        partner = await api.partner("race-idempotent")
        rate = await api.publish_rate()
        user = await api.user(partner, "u-idem", kyc=True)

    body = {"user_id": user["id"], "rate_id": rate["rate_id"], "amount": "1000.00"}
    headers = {**partner.headers, "Idempotency-Key": "race-buy-1"}
    async with _wide_session(service.base_url, copies) as session:
        api = Api(session)
        started = time.monotonic()
        verifies = await asyncio.gather(
            *(
                api.call("POST", "/v1/transactions/buy", headers=headers, json=body)
                for _ in range(copies)
            )
        )
        verify_seconds = time.monotonic() - started
        tx_id = verifies[0].body["id"]
        confirm_headers = {"Idempotency-Key": "race-confirm-1"}
        confirms = await asyncio.gather(
            *(api.confirm(partner, tx_id, headers=confirm_headers) for _ in range(copies))
        )
        # And without a key: confirming is idempotent by itself (one settlement).
        plain = await asyncio.gather(*(api.confirm(partner, tx_id) for _ in range(copies)))

    async with session_for(service.base_url) as session:
        reconciliation = await Api(session).reconcile()

    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM transactions WHERE user_id = %s", (user["id"],))
        transactions = cur.fetchone()[0]
        cur.execute(
            "SELECT count(DISTINCT transaction_id), count(*) FROM ledger_entries"
            " WHERE transaction_id = %s",
            (tx_id,),
        )
        settled, entries = cur.fetchone()
        cur.execute("SELECT count(*) FROM idempotency_keys WHERE partner_id = %s", (partner.id,))
        keys = cur.fetchone()[0]
    conn.close()

    canonical = {json.dumps(r.body, sort_keys=True) for r in verifies}
    confirm_bodies = {json.dumps(r.body, sort_keys=True) for r in confirms}
    show_figures(
        f"\n[idempotency-race] copies={copies} verify_statuses={sorted({r.status for r in verifies})} "
        f"distinct_verify_bodies={len(canonical)} confirm_statuses={sorted({r.status for r in confirms})} "
        f"distinct_confirm_bodies={len(confirm_bodies)} "
        f"plain_confirm_statuses={sorted({r.status for r in plain})} transactions={transactions} "
        f"settled={settled} ledger_entries={entries} idempotency_keys={keys} "
        f"verify_seconds={verify_seconds:.2f} reconciliation_balanced={reconciliation['balanced']}"
    )
    assert {r.status for r in verifies} == {201}
    assert len(canonical) == 1
    assert {r.status for r in confirms} == {200}
    assert len(confirm_bodies) == 1
    assert {r.status for r in plain} == {200}
    assert {r.body["status"] for r in plain} == {"confirmed"}
    assert transactions == 1
    assert settled == 1 and entries > 0
    assert keys == 2
    assert reconciliation["balanced"] is True


async def test_same_key_different_body_is_refused(service):
    async with session_for(service.base_url) as session:
        api = Api(session)
        partner = await api.partner("reuse")
        headers = {**partner.headers, "Idempotency-Key": "reused-key"}
        first = await api.call("POST", "/v1/users", headers=headers, json={"external_id": "a"})
        second = await api.call("POST", "/v1/users", headers=headers, json={"external_id": "b"})
        again = await api.call("POST", "/v1/users", headers=headers, json={"external_id": "a"})
    show_figures(
        f"\n[idempotency-reuse] first={first.status} other_body={second.status} same={again.status}"
    )
    assert first.status == 201
    assert second.status == 422 and second.body["type"].endswith("/idempotency-key-reused")
    assert again.status == 201 and again.body == first.body
