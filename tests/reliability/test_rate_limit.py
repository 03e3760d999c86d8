"""Rate limiting per API key across gunicorn workers, with and without Redis."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from gold_devtools.devstack import free_port
from gold_platform.cache import Cache
from gold_platform.http.ratelimit import RateLimiter, batch_size
from tests.reliability.helpers import (
    PROBLEM_JSON,
    Api,
    Partner,
    service_env,
    session_for,
    show_figures,
)
from tests.running_service import running_service, wait_until_ready

pytestmark = pytest.mark.slow

LIMIT = 30


async def _wait_for_fresh_window(margin: float = 8.0) -> None:
    """The limit is a fixed one-minute window: do not straddle its edge."""
    into = time.time() % 60
    if into > 60 - margin:
        await asyncio.sleep(60 - into + 0.2)


async def _burst(base_url: str, partner: Partner, count: int) -> list:
    connector = aiohttp.TCPConnector(force_close=True, limit=10)  # spread over workers
    async with aiohttp.ClientSession(base_url=base_url, connector=connector) as session:
        api = Api(session)
        return await asyncio.gather(
            *(api.call("GET", "/v1/rates/current", headers=partner.headers) for _ in range(count))
        )


def _check_429s(replies) -> None:
    limited = [r for r in replies if r.status == 429]
    assert limited
    for reply in limited:
        assert reply.content_type == PROBLEM_JSON
        assert reply.body["type"].endswith("/rate-limited")
        assert 1 <= int(reply.headers["Retry-After"]) <= 60


async def _setup(base_url: str) -> tuple[Partner, Partner]:
    async with session_for(base_url) as session:
        api = Api(session)
        first, second = await api.partner("limited"), await api.partner("bystander")
        await api.publish_rate()
    return first, second


async def test_limit_is_shared_by_all_workers_through_redis(database_url, redis_url, tmp_path):
    env = service_env(database_url, redis_url, RATE_LIMIT_PER_MINUTE=str(LIMIT))
    with running_service(env, tmp_path, workers=2) as service:
        wait_until_ready(service.base_url)
        first, second = await _setup(service.base_url)
        await _wait_for_fresh_window()
        replies = await _burst(service.base_url, first, LIMIT + 15)
        other = await _burst(service.base_url, second, 5)
    statuses = [r.status for r in replies]
    show_figures(
        f"\n[rate-limit-redis] limit={LIMIT}/min sent={len(replies)} "
        f"ok={statuses.count(200)} limited={statuses.count(429)} "
        f"retry_after={sorted({r.headers.get('Retry-After') for r in replies if r.status == 429})} "
        f"other_key_ok={sum(r.status == 200 for r in other)}/5"
    )
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == 15
    _check_429s(replies)
    assert all(r.status == 200 for r in other), "one partner's limit hit another partner"


async def test_limit_still_holds_without_redis(database_url, tmp_path: Path):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    workers = 2
    env = service_env(database_url, dead_redis, RATE_LIMIT_PER_MINUTE=str(LIMIT))
    with running_service(env, tmp_path, workers=workers) as service:
        wait_until_ready(service.base_url)
        first, _ = await _setup(service.base_url)
        await _wait_for_fresh_window()
        sent = LIMIT * workers + 30
        started = time.monotonic()
        replies = await _burst(service.base_url, first, sent)
        elapsed = time.monotonic() - started
        async with session_for(service.base_url) as session:
            ready = await Api(session).call("GET", "/health/ready")
    statuses = [r.status for r in replies]
    show_figures(
        f"\n[rate-limit-no-redis] limit={LIMIT}/min per worker, workers={workers} sent={sent} "
        f"ok={statuses.count(200)} limited={statuses.count(429)} seconds={elapsed:.2f} "
        f"readiness={ready.status}:{ready.body['status']}"
    )
    assert set(statuses) <= {200, 429}
    # Never unlimited: at most the limit per worker process passes.
    assert LIMIT <= statuses.count(200) <= LIMIT * workers
    _check_429s(replies)
    assert ready.status == 200 and ready.body["status"] == "degraded"


# A limit large enough that workers report to Redis in batches.
BATCHED_LIMIT = 1000


async def test_batched_reports_stay_within_the_stated_overshoot(redis_url):
    """Workers that admit on their own between reports: never fewer than the
    limit pass, never more than limit + workers x (batch - 1), and after a
    reply shows the limit passed a worker stops asking Redis."""
    workers = 6
    limiter_batch = batch_size(BATCHED_LIMIT)
    assert limiter_batch > 1
    cache = Cache.from_url(redis_url)
    await cache.client.config_resetstat()
    limiters = [RateLimiter(BATCHED_LIMIT) for _ in range(workers)]
    window = int(time.time() // 60)
    key = f"batched-{time.time_ns()}"
    sent = BATCHED_LIMIT * 2
    try:
        # Interleaved and concurrent, as requests reach several processes.
        decisions = await asyncio.gather(
            *(limiters[n % workers].admit(cache, key, window) for n in range(sent))
        )
        calls_at_limit = await _script_calls(cache)
        after = [await limiters[n % workers].admit(cache, key, window) for n in range(60)]
        calls = await _script_calls(cache)
    finally:
        await cache.close()
    admitted = sum(decisions)
    show_figures(
        f"\n[rate-limit-batched] limit={BATCHED_LIMIT} batch={limiter_batch} workers={workers} "
        f"sent={sent} admitted={admitted} redis_calls={calls_at_limit} "
        f"bound={BATCHED_LIMIT + workers * (limiter_batch - 1)}"
    )
    assert BATCHED_LIMIT <= admitted <= BATCHED_LIMIT + workers * (limiter_batch - 1)
    assert calls_at_limit < sent / 2, "a report per request: the batching is not in use"
    assert not any(after)
    assert calls == calls_at_limit, "a worker asked Redis again after it saw the limit passed"


async def _script_calls(cache: Cache) -> int:
    """How many times Redis ran the limiter's script (its own statistics)."""
    stats = await cache.client.info("commandstats")
    return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval"))


async def test_batched_limit_across_gunicorn_workers(database_url, redis_url, tmp_path):
    """The same bound through the real service, two gunicorn workers."""
    workers = 2
    bound = BATCHED_LIMIT + workers * (batch_size(BATCHED_LIMIT) - 1)
    env = service_env(database_url, redis_url, RATE_LIMIT_PER_MINUTE=str(BATCHED_LIMIT))
    with running_service(env, tmp_path, workers=workers) as service:
        wait_until_ready(service.base_url)
        first, _ = await _setup(service.base_url)
        await _wait_for_fresh_window(margin=20.0)
        replies = await _burst(service.base_url, first, bound + 100)
    statuses = [r.status for r in replies]
    show_figures(
        f"\n[rate-limit-batched-service] limit={BATCHED_LIMIT}/min workers={workers} "
        f"sent={len(replies)} ok={statuses.count(200)} limited={statuses.count(429)} bound={bound}"
    )
    assert set(statuses) <= {200, 429}
    assert BATCHED_LIMIT <= statuses.count(200) <= bound
    _check_429s(replies)
