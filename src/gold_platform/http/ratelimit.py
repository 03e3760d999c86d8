"""Fixed-window rate limit per API key, counted in Redis across workers and pods.

Without Redis the limit is still enforced, per worker process: the service
never runs unlimited, though across N workers up to N x the limit may pass
until Redis returns.
"""

from __future__ import annotations

import math
import time

from aiohttp import web
from redis.exceptions import RedisError

from ..cache import Cache
from ..observability.metrics import RATE_LIMITED
from ..state import CACHE, SETTINGS
from .auth import PRINCIPAL
from .problems import Problem

WINDOW_SECONDS = 60


class RateLimiter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._local: dict[tuple[str, int], int] = {}

    async def count(self, cache: Cache, key: str, window: int) -> int:
        client = cache.client
        if client is not None:
            redis_key = f"ratelimit:{key}:{window}"
            try:
                async with client.pipeline(transaction=False) as pipe:
                    pipe.incr(redis_key)
                    pipe.expire(redis_key, WINDOW_SECONDS * 2)
                    count, _ = await pipe.execute()
                return int(count)
            except (RedisError, OSError) as exc:
                cache.failed(exc, "ratelimit")
        return self._count_locally(key, window)

    def _count_locally(self, key: str, window: int) -> int:
        if len(self._local) > 50_000:
            self._local = {k: v for k, v in self._local.items() if k[1] == window}
        count = self._local.get((key, window), 0) + 1
        self._local[(key, window)] = count
        return count


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
        if await limiter.count(request.app[CACHE], principal.key_id, window) > limiter.limit:
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
