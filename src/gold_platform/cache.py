"""Redis as a cache only: every method tolerates Redis being gone.

A failed call is counted, logged, and answered as a miss; after a failure the
cache is skipped for a short back-off so a dead Redis does not add its
connect timeout to every request. Nothing is ever written only to Redis.
"""

from __future__ import annotations

import time
from typing import cast

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from .observability.logs import get_logger
from .observability.metrics import CACHE_OPERATIONS

log = get_logger(__name__)

SOCKET_TIMEOUT_SECONDS = 0.25
# New connections get longer: under a burst the event loop itself may be late.
CONNECT_TIMEOUT_SECONDS = 1.0
BACKOFF_SECONDS = 1.0


class Cache:
    def __init__(self, client: redis.Redis | None) -> None:
        self._client = client
        self._skip_until = 0.0

    @classmethod
    def from_url(cls, url: str | None, max_connections: int = 50) -> Cache:
        if url is None:
            return cls(None)
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=SOCKET_TIMEOUT_SECONDS,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            # After Redis restarts, every pooled connection is stale: retry a
            # command once on a fresh connection instead of failing it (and
            # reporting "degraded") once per stale connection.
            retry=Retry(NoBackoff(), 1),
            retry_on_error=[RedisConnectionError],
        )
        return cls(redis.Redis(connection_pool=pool))

    @property
    def configured(self) -> bool:
        return self._client is not None

    @property
    def client(self) -> redis.Redis | None:
        """The raw client when Redis is configured and not in back-off."""
        if self._client is None or time.monotonic() < self._skip_until:
            return None
        return self._client

    def failed(self, exc: Exception, op: str) -> None:
        """Record a Redis failure and start the back-off."""
        CACHE_OPERATIONS.labels("error").inc()
        self._skip_until = time.monotonic() + BACKOFF_SECONDS
        log.warning("cache_error", op=op, error=f"{type(exc).__name__}: {exc}")

    async def get(self, key: str) -> bytes | None:
        client = self.client
        if client is None:
            return None
        try:
            value = await client.get(key)
        except (RedisError, OSError) as exc:
            self.failed(exc, "get")
            return None
        CACHE_OPERATIONS.labels("hit" if value is not None else "miss").inc()
        return cast("bytes | None", value)  # the client does not decode responses

    async def set(
        self, key: str, value: bytes, ttl_seconds: int, *, only_if_absent: bool = False
    ) -> None:
        client = self.client
        if client is None:
            return
        try:
            await client.set(key, value, ex=ttl_seconds, nx=only_if_absent)
        except (RedisError, OSError) as exc:
            self.failed(exc, "set")

    async def ping(self) -> bool:
        """Readiness probe: ignores the back-off so recovery is seen at once."""
        if self._client is None:
            return False
        try:
            await self._client.ping()
        except (RedisError, OSError):
            return False
        self._skip_until = 0.0
        return True

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose(close_connection_pool=True)
