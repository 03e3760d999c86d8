"""Probes: the endpoints the kubelet calls (metrics have their own port)."""

from __future__ import annotations

import asyncio

import psycopg2
from aiohttp import web

from ..db import autocommit
from ..state import CACHE, DB_POOL, MIGRATIONS_HEAD
from .responses import json_response

READINESS_TIMEOUT_SECONDS = 2.0


async def live(request: web.Request) -> web.Response:
    """Liveness: the process answers. No dependency calls, by design."""
    return json_response({"status": "ok"})


async def _database_check(request: web.Request) -> dict[str, object]:
    """Ready when this build's newest migration is applied.

    The schema may be AHEAD of this build (the next release's migration runs
    before its pods start, and a rollback leaves it in place): migrations are
    expand-only across one release, so older code keeps working on it.
    """
    head = request.app[MIGRATIONS_HEAD]
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            async with autocommit(request.app[DB_POOL]) as cur:
                await cur.execute(
                    "SELECT max(migration_id) AS current,"
                    " coalesce(bool_or(migration_id = %s), false) AS has_head"
                    " FROM _yoyo_migration",
                    (head,),
                )
                row = await cur.fetchone()
                assert row is not None  # an aggregate always returns one row
    except (psycopg2.Error, OSError, TimeoutError) as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": row["has_head"], "migration": row["current"], "expected_migration": head}


async def ready(request: web.Request) -> web.Response:
    """Readiness: PostgreSQL reachable and migrated; Redis down only degrades."""
    cache = request.app[CACHE]
    database, redis_ok = await asyncio.gather(_database_check(request), cache.ping())
    checks: dict[str, object] = {"database": database}
    if cache.configured:
        checks["redis"] = {"ok": redis_ok}
    else:
        checks["redis"] = {"ok": False, "configured": False}
    if not database["ok"]:
        status, code = "not_ready", 503
    elif not redis_ok:
        status, code = "degraded", 200
    else:
        status, code = "ready", 200
    return json_response({"status": status, "checks": checks}, status=code)
