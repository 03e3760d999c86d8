"""The current rate: PostgreSQL is the truth, Redis a cache in front of it."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import aiopg
import orjson

from ..cache import Cache
from ..db import DictCursor, autocommit, transaction
from ..domain.money import money
from ..domain.pricing import RatePrices, check_publishable
from ..store import ledger, rates

# Short, so a publish that could not reach Redis is corrected within seconds.
CACHE_TTL_SECONDS = 10


def _cache_key(currency: str) -> str:
    return f"rate:current:{currency}"


# A rate as the API shows it: every figure a string.
RateJson = dict[str, str]


def rate_json(row: rates.RateRow) -> RateJson:
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
    body = orjson.dumps(rate_json(row))
    # NX: a publish that committed after our read has already stored a newer
    # rate; a refill must never put the superseded one back.
    await cache.set(_cache_key(currency), body, CACHE_TTL_SECONDS, only_if_absent=True)
    return body


@dataclass(frozen=True, slots=True)
class LatestRate:
    """The newest published rate, serialised, with the end of its validity."""

    body: bytes
    valid_until: datetime


class CurrentRate:
    """The latest rate as each worker serves it: kept in process for
    LOCAL_TTL_SECONDS, refreshed by one request at a time (the others await the
    same refresh), so a burst of reads costs one Redis read, not one each."""

    LOCAL_TTL_SECONDS = 0.5

    def __init__(self, pool: aiopg.Pool, cache: Cache, currency: str) -> None:
        self._pool, self._cache, self._currency = pool, cache, currency
        self._latest: LatestRate | None = None
        self._fresh_until = 0.0
        self._refreshing: asyncio.Future[LatestRate | None] | None = None

    async def latest(self) -> LatestRate | None:
        """None when no rate was ever published; the caller checks `valid_until`."""
        if self._latest is not None and time.monotonic() < self._fresh_until:
            return self._latest
        if self._refreshing is None:
            self._refreshing = asyncio.ensure_future(self._refresh())
        return await asyncio.shield(self._refreshing)

    def forget(self) -> None:
        """After a publish in this worker, do not serve the previous rate locally."""
        self._fresh_until = 0.0

    async def _refresh(self) -> LatestRate | None:
        try:
            body = await current_rate_body(self._pool, self._cache, self._currency)
            if body is None:
                return None
            valid_until = datetime.fromisoformat(json.loads(body)["valid_until"])
            self._latest = LatestRate(body, valid_until)
            self._fresh_until = time.monotonic() + self.LOCAL_TTL_SECONDS
            return self._latest
        finally:
            self._refreshing = None


async def record(
    cur: DictCursor,
    *,
    currency: str,
    buy_price: Decimal,
    sell_price: Decimal,
    tax_rate: Decimal,
    valid_seconds: int,
    source: str,
) -> RateJson:
    """Records a rate in the caller's transaction; `announce` it once committed.

    The one way a rate is published (the operator's API and the feed alike):
    it refuses, before anything is stored, what `pricing.check_publishable`
    refuses (a price at or below 0, a sell price above the buy price, a tax
    rate outside [0, 1), a price the API could not show)."""
    check_publishable(RatePrices(buy_price, sell_price, tax_rate))
    await ledger.ensure_platform_accounts(cur, currency)
    row = await rates.publish(cur, currency, buy_price, sell_price, tax_rate, valid_seconds, source)
    return rate_json(row)


async def announce(cache: Cache, currency: str, body: bytes) -> None:
    """Replace, not just invalidate: the next read is a hit. If Redis is down the
    entry simply expires (CACHE_TTL_SECONDS) and reads fall back to PostgreSQL."""
    await cache.set(_cache_key(currency), body, CACHE_TTL_SECONDS)


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
) -> RateJson:
    """Records and announces a rate (the feed): `record` in its own transaction."""
    async with transaction(pool) as cur:
        body = await record(
            cur,
            currency=currency,
            buy_price=buy_price,
            sell_price=sell_price,
            tax_rate=tax_rate,
            valid_seconds=valid_seconds,
            source=source,
        )
    await announce(cache, currency, orjson.dumps(body))
    return body
