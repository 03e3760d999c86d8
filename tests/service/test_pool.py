"""The pool's sessions: a saturated pool answers 503 in bounded time instead of
queueing forever, and every session runs in UTC."""

import time

import psycopg2
from psycopg2.extensions import parse_dsn

from gold_platform.db import ACQUIRE_TIMEOUT_SECONDS, autocommit
from gold_platform.state import DB_POOL
from tests.api.conftest import OPERATOR
from tests.conftest import admin_connection


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


async def test_every_pooled_session_runs_in_utc_whatever_the_database_default(
    make_client, settings, pg_server_url, database_url
):
    admin = admin_connection(pg_server_url)
    with admin.cursor() as cur:
        cur.execute(
            f"ALTER DATABASE {parse_dsn(database_url)['dbname']} SET timezone = 'Asia/Kolkata'"
        )
    admin.close()
    plain = psycopg2.connect(database_url)
    with plain.cursor() as cur:
        cur.execute("SHOW timezone")
        assert cur.fetchone() == ("Asia/Kolkata",)  # what any other session gets
    plain.close()

    client = await make_client(settings)
    async with autocommit(client.app[DB_POOL]) as cur:
        await cur.execute("SHOW timezone")
        assert await cur.fetchone() == {"TimeZone": "UTC"}
    partner = await client.post("/v1/admin/partners", headers=OPERATOR, json={"name": "tz"})
    assert (await partner.json())["created_at"].endswith("+00:00")
