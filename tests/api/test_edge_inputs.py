"""Inputs at the edges: each of these once answered 500 or stored something odd."""

import asyncio
import json
import uuid

import pytest
import redis as redis_sync

from gold_platform.cache import Cache
from gold_platform.settings import Settings, SettingsError


async def test_ids_with_a_trailing_newline_are_refused_not_crashed(api, partner, rate, sql):
    user = await api.user(partner, kyc=True)
    await api.call("GET", f"/v1/users/{user['id']}%0A", headers=partner.headers, expect=404)
    body = await api.verify(
        partner, "buy", user["id"] + "\n", rate["rate_id"], amount="100.00", expect=422
    )
    assert [e["field"] for e in body["errors"]] == ["user_id"], body["errors"]
    refused = await api.call(
        "POST", "/v1/users", headers=partner.headers, json={"external_id": "abc\n"}, expect=422
    )
    assert refused["errors"] == [
        {"field": "external_id", "message": "contains a control character"}
    ]
    assert sql("SELECT count(*) FROM transactions")[0][0] == 0


async def test_query_values_outside_ascii_or_calendar_range(api, partner):
    user = await api.user(partner)
    await api.call(
        "GET",
        f"/v1/users/{user['id']}/transactions?limit=%C2%B2",
        headers=partner.headers,
        expect=422,
    )
    body = await api.call(
        "GET", "/v1/rates/history?to=0001-01-01T00:00:00", headers=partner.headers, expect=422
    )
    assert body["errors"][0]["field"] == "to"


async def test_non_utf8_authorization_header_is_a_401(client):
    port = client.server.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"GET /v1/rates/current HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n"
        b"Connection: close\r\n\r\n"
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.split()[1] == b"401", status_line


async def test_a_trade_too_large_to_store_is_a_422(api, partner, rate, sql):
    user = await api.user(partner, kyc=True)
    body = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], grams="999999999.0000", expect=422
    )
    assert body["type"].endswith("/above-maximum")
    assert sql("SELECT count(*) FROM transactions")[0][0] == 0


def test_tax_rate_must_fit_the_database():
    url = "postgresql://u@127.0.0.1:5432/gold"
    for bad in ("1", "0.03125"):
        with pytest.raises(SettingsError, match="BUY_TAX_RATE"):
            Settings.from_env({"DATABASE_URL": url, "BUY_TAX_RATE": bad})
    assert (
        str(Settings.from_env({"DATABASE_URL": url, "BUY_TAX_RATE": "0.0300"}).buy_tax_rate)
        == "0.0300"
    )


def test_settings_repr_hides_secrets():
    settings = Settings.from_env(
        {"DATABASE_URL": "postgresql://u:hunter2@db/gold", "OPERATOR_API_KEY": "k" * 30}
    )
    assert "hunter2" not in repr(settings)
    assert "k" * 30 not in repr(settings)


async def test_a_cache_refill_never_replaces_a_newer_entry(redis_url):
    cache = Cache.from_url(redis_url)
    try:
        await cache.set("rate:current:INR", b'{"rate_id": "newer"}', 10)
        await cache.set("rate:current:INR", b'{"rate_id": "older"}', 10, only_if_absent=True)
        stored = redis_sync.Redis.from_url(redis_url).get("rate:current:INR")
        assert json.loads(stored) == {"rate_id": "newer"}
    finally:
        await cache.close()


async def test_portfolio_before_any_rate_has_no_value(api, partner):
    user = await api.user(partner)
    body = await api.call(
        "GET", f"/v1/users/{user['id']}/portfolio", headers=partner.headers, expect=200
    )
    assert body["current_value"] is None and body["unrealised_pnl"] is None
    assert body["valued_at_rate_id"] is None
    assert uuid.UUID(body["user_id"])


async def test_ledger_entries_are_append_only(api, partner, rate, sql):
    import psycopg2

    user = await api.user(partner)
    await api.trade(partner, "buy", user["id"], rate["rate_id"], amount="100.00")
    for statement in (
        "UPDATE ledger_entries SET amount = amount * 2",
        "DELETE FROM ledger_entries",
        "TRUNCATE ledger_entries",
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only"):
            sql(statement)
    assert sql("SELECT count(*) FROM ledger_entries")[0][0] == 4
    assert (await api.reconcile())["balanced"] is True
