"""The current rate: PostgreSQL is the truth, Redis a cache in front of it."""

from __future__ import annotations

import json
from decimal import Decimal

import aiopg

from ..cache import Cache
from ..db import autocommit, transaction
from ..domain.money import money
from ..domain.pricing import RatePrices
from ..store import ledger, rates

# Short, so a publish that could not reach Redis is corrected within seconds.
CACHE_TTL_SECONDS = 10


def _cache_key(currency: str) -> str:
    return f"rate:current:{currency}"


def rate_json(row: dict) -> dict:
    prices = RatePrices(row["buy_price"], row["sell_price"], row["tax_rate"])
    return {
        "rate_id": str(row["id"]),
        "currency": row["currency"],
        "buy_price": money(row["buy_price"]),
        "sell_price": money(row["sell_price"]),
        "tax_rate": f"{row['tax_rate']:f}",
        "buy_price_with_tax": money(prices.buy_price_with_tax),
        "published_at": row["published_at"].isoformat(),
        "valid_until": row["valid_until"].isoformat(),
    }


async def current_rate_body(pool: aiopg.Pool, cache: Cache, currency: str) -> bytes | None:
    """The serialised current rate, ready to send; None when none was ever published."""
    cached = await cache.get(_cache_key(currency))
    if cached is not None:
        return cached
    async with autocommit(pool) as cur:
        row = await rates.current(cur, currency)
    if row is None:
        return None
    body = json.dumps(rate_json(row)).encode()
    await cache.set(_cache_key(currency), body, CACHE_TTL_SECONDS)
    return body


async def publish(
    pool: aiopg.Pool,
    cache: Cache,
    *,
    currency: str,
    buy_price: Decimal,
    sell_price: Decimal,
    tax_rate: Decimal,
    valid_seconds: int,
    source: str,
) -> dict:
    async with transaction(pool) as cur:
        await ledger.ensure_platform_accounts(cur, currency)
        row = await rates.publish(
            cur, currency, buy_price, sell_price, tax_rate, valid_seconds, source
        )
    body = rate_json(row)
    # Replace, not just invalidate: the next read is a hit. If Redis is down the
    # entry simply expires (CACHE_TTL_SECONDS) and reads fall back to PostgreSQL.
    await cache.set(_cache_key(currency), json.dumps(body).encode(), CACHE_TTL_SECONDS)
    return body
