"""Steady load from INSIDE the cluster, through the backend's ClusterIP Service.

Runs in a pod (the service's own image, which has aiohttp) that stands where
the ingress controller stands, so the traffic takes the one path the shipped
NetworkPolicies open and goes through kube-proxy's Service routing, not
through a port-forward pinned to one pod. Every worker loops, paced to a
steady REQUESTS_PER_SECOND in all, over reads (`GET /v1/rates/current`) and,
every fifth turn, a buy (verify + confirm); a
side task publishes a fresh rate every 20 s so rate locks never expire.

Each request opens its own connection, as a client arriving through a load
balancer would: the count measures what the Service does with a new request
at each instant of a rollout (a reused keep-alive connection to a pod that
is shutting down is the ingress's retry policy's business, not this test's).

Bounded: stops at /tmp/stop, after MAX_SECONDS, or after MAX_REQUESTS. The
last line on stdout is a JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

TARGET = os.environ["TARGET"]
PARTNER = {"Authorization": f"Bearer {os.environ['PARTNER_KEY']}"}
OPERATOR = {"Authorization": f"Bearer {os.environ['OPERATOR_KEY']}"}
USER_ID = os.environ["USER_ID"]
CONCURRENCY = int(os.environ.get("CONCURRENCY", "4"))
MAX_SECONDS = float(os.environ.get("MAX_SECONDS", "300"))
MAX_REQUESTS = int(os.environ.get("MAX_REQUESTS", "200000"))
# Below the service's per-key rate limit (RATE_LIMIT_PER_MINUTE, 600 in dev):
# a steady load, not a flood that the limiter would rightly refuse.
REQUESTS_PER_SECOND = float(os.environ.get("REQUESTS_PER_SECOND", "9"))
STOP_FILE = Path("/tmp/stop")
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)


class Load:
    def __init__(self) -> None:
        self.sent = 0
        self.failed = 0
        self.by_kind: Counter[str] = Counter()
        self.first_failures: list[dict] = []
        self.started = time.monotonic()

    def done(self) -> bool:
        return (
            STOP_FILE.exists()
            or self.sent >= MAX_REQUESTS
            or time.monotonic() - self.started > MAX_SECONDS
        )

    async def request(self, session, method: str, path: str, expect: int, **kw):
        self.sent += 1
        kind = None
        body = None
        try:
            async with session.request(method, TARGET + path, **kw) as response:
                body = await response.json(content_type=None)
                if response.status != expect:
                    kind = f"http {response.status}"
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            kind = type(exc).__name__
        if kind is not None:
            self.failed += 1
            self.by_kind[kind] += 1
            if len(self.first_failures) < 10:
                elapsed = round(time.monotonic() - self.started, 2)
                self.first_failures.append({"at_s": elapsed, "path": path, "kind": kind})
            return None
        return body

    async def worker(self, session, number: int) -> None:
        turn = 0
        pace = CONCURRENCY / REQUESTS_PER_SECOND
        next_at = time.monotonic() + number * pace / CONCURRENCY
        while not self.done():
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at += pace
            turn += 1
            rate = await self.request(session, "GET", "/v1/rates/current", 200, headers=PARTNER)
            if rate is None or (turn + number) % 5:
                continue
            order = {"user_id": USER_ID, "rate_id": rate["rate_id"], "amount": "100.00"}
            tx = await self.request(
                session, "POST", "/v1/transactions/buy", 201, headers=PARTNER, json=order
            )
            if tx is not None:
                path = f"/v1/transactions/{tx['id']}/confirm"
                await self.request(session, "POST", path, 200, headers=PARTNER)

    async def publish_rate(self, session) -> None:
        prices = {"buy_price": "6000.00", "sell_price": "5800.00"}
        await self.request(session, "POST", "/v1/admin/rates", 201, headers=OPERATOR, json=prices)

    async def rates(self, session) -> None:
        while not self.done():
            for _ in range(20):
                if self.done():
                    return
                await asyncio.sleep(1)
            await self.publish_rate(session)

    async def progress(self) -> None:
        while not self.done():
            await asyncio.sleep(10)
            print(f"sent {self.sent}, failed {self.failed}", file=sys.stderr, flush=True)


async def main() -> None:
    load = Load()
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=REQUEST_TIMEOUT) as session:
        # A current rate before the first read (a fresh database has none).
        await load.publish_rate(session)
        print("load started", file=sys.stderr, flush=True)
        await asyncio.gather(
            load.rates(session),
            load.progress(),
            *(load.worker(session, n) for n in range(CONCURRENCY)),
        )
    summary = {
        "sent": load.sent,
        "failed": load.failed,
        "seconds": round(time.monotonic() - load.started, 1),
        "failures_by_kind": dict(load.by_kind),
        "first_failures": load.first_failures,
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
