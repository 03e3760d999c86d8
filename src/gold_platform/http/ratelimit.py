"""Fixed-window rate limit per API key, counted in Redis across workers and pods.

A worker does not ask Redis on every request. Per key and window it admits up
to `batch - 1` requests on its own, then reports them together with the next
request in one `INCRBY`, whose reply (the count of every worker) decides that
request and refreshes what the worker knows. So Redis sees one round trip per
`batch` requests, and the limit is exact when `batch` is 1.

Worst case, per key and window: `limit + workers x (batch - 1)` requests pass,
`workers` being every process that shares the Redis (all pods). Each worker
holds at most `batch - 1` admitted requests that no other worker knows of, and
once a reply shows the limit passed that worker refuses the rest of the window
without asking Redis again. `batch_size` keeps the overshoot within 1 % of the
limit per worker: 1 (exact) below 200 requests a minute, at most 100.

Without Redis the limit is still enforced, per worker process: the service
never runs unlimited, though across N workers up to N x the limit may pass
until Redis returns.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from ..cache import Cache
from ..observability.metrics import RATE_LIMITED
from ..state import CACHE, SETTINGS
from .auth import PRINCIPAL
from .problems import Problem

WINDOW_SECONDS = 60
MAX_BATCH = 100
MAX_TRACKED_KEYS = 50_000
_K = TypeVar("_K", bound=tuple[str, int])
_V = TypeVar("_V")
# One round trip, atomic: add a worker's requests and give a new window its expiry.
_COUNT_SCRIPT = """
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return n
"""


def batch_size(limit: int) -> int:
    """Requests a worker admits per report to Redis: 1 % of the limit, 1 to MAX_BATCH."""
    return max(1, min(MAX_BATCH, limit // 100))


@dataclass(slots=True)
class _Window:
    """One key's window as this worker sees it."""

    known: int = 0  # the shared count in Redis's last reply
    pending: int = 0  # admitted here, not yet reported
    reporting: asyncio.Future[None] | None = None


class RateLimiter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.batch = batch_size(limit)
        self._windows: dict[tuple[str, int], _Window] = {}
        self._local: dict[tuple[str, int], int] = {}
        # Registered on first use with the app's one Redis client.
        self._script: AsyncScript | None = None

    async def admit(self, cache: Cache, key: str, window: int) -> bool:
        """Whether one more request of `key` fits in `window`."""
        if cache.client is None:
            return self._count_locally(key, window) <= self.limit
        if self.batch == 1:  # exact: every request asks Redis, concurrently
            total = await self._increment(cache, key, window, 1)
            return (total if total is not None else self._count_locally(key, window)) <= self.limit
        state = self._window(key, window)
        # Bounded: each pass either decides or waits for one report to finish.
        for _ in range(1000):
            if state.known > self.limit:
                return False  # the count only grows within a window
            if state.reporting is not None:
                await asyncio.shield(state.reporting)
                continue
            if state.pending + 1 < self.batch and state.known + state.pending < self.limit:
                state.pending += 1
                return True
            return await self._report(cache, key, window, state)
        return await self._report(cache, key, window, state)

    async def _report(self, cache: Cache, key: str, window: int, state: _Window) -> bool:
        """Reports the pending requests and this one; the reply decides this one."""
        count = state.pending + 1
        state.pending = 0
        reporting = state.reporting = asyncio.get_running_loop().create_future()
        try:
            total = await self._increment(cache, key, window, count)
        finally:
            state.reporting = None
            reporting.set_result(None)
        if total is None:
            return self._count_locally(key, window) <= self.limit
        state.known = max(state.known, total)
        return total <= self.limit

    async def _increment(self, cache: Cache, key: str, window: int, count: int) -> int | None:
        client = cache.client
        if client is None:
            return None
        if self._script is None:
            self._script = client.register_script(_COUNT_SCRIPT)
        try:
            total = await self._script(
                keys=[f"ratelimit:{key}:{window}"], args=[count, WINDOW_SECONDS * 2]
            )
        except (RedisError, OSError) as exc:
            cache.failed(exc, "ratelimit")
            return None
        return int(total)

    def _window(self, key: str, window: int) -> _Window:
        state = self._windows.get((key, window))
        if state is None:
            self._windows = _current_only(self._windows, window)
            state = self._windows[(key, window)] = _Window()
        return state

    def _count_locally(self, key: str, window: int) -> int:
        self._local = _current_only(self._local, window)
        count = self._local.get((key, window), 0) + 1
        self._local[(key, window)] = count
        return count


def _current_only(counts: dict[_K, _V], window: int) -> dict[_K, _V]:
    """Drops past windows once there are many keys (a new window is cheap to start)."""
    if len(counts) < MAX_TRACKED_KEYS:
        return counts
    return {k: v for k, v in counts.items() if k[1] == window}


RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)


def setup(app: web.Application) -> None:
    app[RATE_LIMITER] = RateLimiter(app[SETTINGS].rate_limit_per_minute)


@web.middleware
async def rate_limit(request: web.Request, handler) -> web.StreamResponse:
    principal = request.get(PRINCIPAL)
    if principal is not None:
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        limiter = request.app[RATE_LIMITER]
        if not await limiter.admit(request.app[CACHE], principal.key_id, window):
            RATE_LIMITED.inc()
            retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
            raise Problem(
                429,
                "rate-limited",
                "Too Many Requests",
                f"More than {limiter.limit} requests in a minute for this API key.",
                headers={"Retry-After": str(retry_after)},
            )
    return await handler(request)
