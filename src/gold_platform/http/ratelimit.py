"""Fixed-window rate limit per API key, counted in Redis across workers and pods.

Without Redis the limit is still enforced, per worker process: the service
never runs unlimited, though across N workers up to N x the limit may pass
until Redis returns.
"""

from __future__ import annotations

import math
import time

from aiohttp import web
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from ..cache import Cache
from ..observability.metrics import RATE_LIMITED
from ..state import CACHE, SETTINGS
from .auth import PRINCIPAL
from .problems import Problem

WINDOW_SECONDS = 60
# One round trip, atomic: count the request and give a new window its expiry.
_COUNT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RateLimiter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._local: dict[tuple[str, int], int] = {}
        # Registered on first use with the app's one Redis client.
        self._script: AsyncScript | None = None

    async def count(self, cache: Cache, key: str, window: int) -> int:
        client = cache.client
        if client is not None:
            if self._script is None:
                self._script = client.register_script(_COUNT_SCRIPT)
            try:
                count = await self._script(
                    keys=[f"ratelimit:{key}:{window}"], args=[WINDOW_SECONDS * 2]
                )
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
