"""Typed keys for everything the app factory puts on the application."""

from __future__ import annotations

import aiopg
from aiohttp import web

from .cache import Cache
from .services.rates import CurrentRate
from .settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DB_POOL = web.AppKey("db_pool", aiopg.Pool)
CACHE = web.AppKey("cache", Cache)
MIGRATIONS_HEAD = web.AppKey("migrations_head", str)
CURRENT_RATE = web.AppKey("current_rate", CurrentRate)
