"""A saturated pool answers 503 in bounded time instead of queueing forever."""

import time

from gold_platform.db import ACQUIRE_TIMEOUT_SECONDS
from gold_platform.state import DB_POOL
from tests.api.conftest import OPERATOR


async def test_exhausted_pool_gives_503_problem_within_the_acquire_timeout(make_client, settings):
    client = await make_client(settings, database_pool_size=1, database_max_overflow=0)
    pool = client.app[DB_POOL]
    held = await pool.acquire()
    try:
        started = time.monotonic()
        response = await client.get("/v1/admin/reconciliation", headers=OPERATOR)
        waited = time.monotonic() - started
        body = await response.json()
        print(f"\nexhausted pool: {response.status} after {waited:.2f}s")
        assert response.status == 503
        assert response.content_type == "application/problem+json"
        assert response.headers["Retry-After"] == "1"
        assert body["type"].endswith("/service-unavailable")
        assert ACQUIRE_TIMEOUT_SECONDS - 0.5 <= waited <= ACQUIRE_TIMEOUT_SECONDS + 2
    finally:
        await pool.release(held)
    # and the same app serves again once a connection is free
    assert (await client.get("/v1/admin/reconciliation", headers=OPERATOR)).status == 200
