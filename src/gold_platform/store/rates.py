"""Published rates: every one is kept, for pricing, history and audit."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

_COLUMNS = "id, currency, buy_price, sell_price, tax_rate, source, published_at, valid_until"


async def publish(
    cur,
    currency: str,
    buy_price: Decimal,
    sell_price: Decimal,
    tax_rate: Decimal,
    valid_seconds: int,
    source: str,
) -> dict:
    await cur.execute(
        "INSERT INTO rates (currency, buy_price, sell_price, tax_rate, source, valid_until)"
        " VALUES (%s, %s, %s, %s, %s, now() + make_interval(secs => %s))"
        f" RETURNING {_COLUMNS}",
        (currency, buy_price, sell_price, tax_rate, source, valid_seconds),
    )
    return await cur.fetchone()


async def current(cur, currency: str) -> dict | None:
    await cur.execute(
        f"SELECT {_COLUMNS} FROM rates WHERE currency = %s ORDER BY published_at DESC LIMIT 1",
        (currency,),
    )
    return await cur.fetchone()


async def get(cur, rate_id: str) -> dict | None:
    await cur.execute(
        f"SELECT {_COLUMNS}, valid_until > clock_timestamp() AS valid FROM rates WHERE id = %s",
        (rate_id,),
    )
    return await cur.fetchone()


async def history(
    cur, currency: str, start: datetime, end: datetime, interval_seconds: int
) -> list[dict]:
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
    return await cur.fetchall()
