"""Published rates: every one is kept, for pricing, history and audit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TypedDict, cast

from ..db import DictCursor
from .reads import Read


class RateRow(TypedDict):
    id: str
    currency: str
    buy_price: Decimal
    sell_price: Decimal
    tax_rate: Decimal
    source: str
    published_at: datetime
    valid_until: datetime


class LockableRateRow(RateRow):
    """A rate as a trade reads it: `valid` is whether it can still be quoted."""

    valid: bool


class RateBucket(TypedDict):
    bucket_start: datetime
    buy_open: Decimal
    buy_high: Decimal
    buy_low: Decimal
    buy_close: Decimal
    sell_open: Decimal
    sell_high: Decimal
    sell_low: Decimal
    sell_close: Decimal
    samples: int


_COLUMNS = "id, currency, buy_price, sell_price, tax_rate, source, published_at, valid_until"


async def publish(
    cur: DictCursor,
    currency: str,
    buy_price: Decimal,
    sell_price: Decimal,
    tax_rate: Decimal,
    valid_seconds: int,
    source: str,
) -> RateRow:
    await cur.execute(
        "INSERT INTO rates (currency, buy_price, sell_price, tax_rate, source, valid_until)"
        " VALUES (%s, %s, %s, %s, %s, now() + make_interval(secs => %s))"
        f" RETURNING {_COLUMNS}",
        (currency, buy_price, sell_price, tax_rate, source, valid_seconds),
    )
    return cast(RateRow, await cur.fetchone())


async def current(cur: DictCursor, currency: str) -> RateRow | None:
    await cur.execute(
        f"SELECT {_COLUMNS} FROM rates WHERE currency = %s ORDER BY published_at DESC LIMIT 1",
        (currency,),
    )
    return cast("RateRow | None", await cur.fetchone())


_BY_ID = f"SELECT {_COLUMNS}, valid_until > clock_timestamp() AS valid FROM rates WHERE id = %s"


async def get(cur: DictCursor, rate_id: str) -> LockableRateRow | None:
    await cur.execute(_BY_ID, (rate_id,))
    return cast("LockableRateRow | None", await cur.fetchone())


def read(rate_id: str) -> Read:
    """`get` as a Read named "rate", to send inside another statement (a LockableRateRow)."""
    return Read("rate", _BY_ID, (rate_id,))


async def history(
    cur: DictCursor, currency: str, start: datetime, end: datetime, interval_seconds: int
) -> list[RateBucket]:
    """Open/high/low/close of buy and sell prices per time bucket."""
    await cur.execute(
        """
        SELECT date_bin(make_interval(secs => %(step)s), published_at, 'epoch'::timestamptz)
                   AS bucket_start,
               (array_agg(buy_price ORDER BY published_at))[1] AS buy_open,
               max(buy_price) AS buy_high,
               min(buy_price) AS buy_low,
               (array_agg(buy_price ORDER BY published_at DESC))[1] AS buy_close,
               (array_agg(sell_price ORDER BY published_at))[1] AS sell_open,
               max(sell_price) AS sell_high,
               min(sell_price) AS sell_low,
               (array_agg(sell_price ORDER BY published_at DESC))[1] AS sell_close,
               count(*) AS samples
          FROM rates
         WHERE currency = %(currency)s
           AND published_at >= %(start)s AND published_at < %(end)s
         GROUP BY bucket_start
         ORDER BY bucket_start
        """,
        {"step": interval_seconds, "currency": currency, "start": start, "end": end},
    )
    return cast(list[RateBucket], await cur.fetchall())
