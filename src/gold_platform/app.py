"""The app factory: the one place where settings, resources, middlewares and
routes are wired together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from . import db
from .cache import Cache
from .http import auth, ratelimit
from .http.middlewares import observe, problems
from .migrations import head_id
from .observability.logs import configure_logging, get_logger
from .routes import add_routes
from .services import expiry, idempotency
from .services import ledger as ledger_service
from .services.rates import CurrentRate
from .settings import Settings
from .state import CACHE, CURRENT_RATE, DB_POOL, MIGRATIONS_HEAD, SETTINGS

log = get_logger(__name__)


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    pool = await db.create_pool(settings)
    background = [
        asyncio.create_task(db.warm_up(pool, settings.database_pool_size)),
        asyncio.create_task(db.report_pool_metrics(pool, settings.database_pool_max)),
        asyncio.create_task(expiry.sweep_forever(pool)),
        asyncio.create_task(idempotency.purge_forever(pool, settings.idempotency_key_ttl_hours)),
        asyncio.create_task(ledger_service.checkpoint_forever(pool)),
    ]
    app[DB_POOL] = pool
    yield
    for task in background:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await task
            except Exception:  # a failed helper task must not keep the pool open
                log.exception(
                    "background_task_failed", task=getattr(task.get_coro(), "__qualname__", "?")
                )
    pool.close()
    await pool.wait_closed()


async def _cache(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    cache = Cache.from_url(settings.redis_url, max_connections=settings.database_pool_max * 2)
    app[CACHE] = cache
    app[CURRENT_RATE] = CurrentRate(app[DB_POOL], cache, settings.currency)
    yield
    await cache.close()


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    app = web.Application(
        middlewares=[observe, problems, auth.authenticate, ratelimit.rate_limit],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[MIGRATIONS_HEAD] = head_id(settings.migrations_dir)
    app.cleanup_ctx.extend([_database, _cache])
    auth.setup(app)
    ratelimit.setup(app)
    add_routes(app)
    return app
