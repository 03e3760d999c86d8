"""Schema migrations with yoyo: plain SQL files, each with a rollback.

yoyo takes a PostgreSQL advisory lock around `apply`, so several pods may run
`gold-platform migrate` at once: one applies, the others wait and find nothing
left to do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
from yoyo import get_backend, read_migrations
from yoyo.backends import DatabaseBackend

from .observability.logs import get_logger

log = get_logger(__name__)
LOCK_TIMEOUT_SECONDS = 60
CONNECT_TIMEOUT_SECONDS = 5


class DatabaseUnavailable(Exception):
    """PostgreSQL did not accept a connection within the wait."""


def wait_for_database(database_url: str, wait_seconds: float) -> None:
    """Retry connecting for up to `wait_seconds`.

    A migration Job may start while PostgreSQL is still initialising (or
    restarting); failing at once would burn the Job's retries.
    """
    deadline = time.monotonic() + wait_seconds
    delay = 0.25
    while True:
        try:
            psycopg2.connect(database_url, connect_timeout=CONNECT_TIMEOUT_SECONDS).close()
            return
        except psycopg2.OperationalError as exc:
            if time.monotonic() + delay > deadline:
                reason = (
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                )
                raise DatabaseUnavailable(
                    f"PostgreSQL not reachable after {wait_seconds:g} s: {reason}"
                ) from exc
            log.info("database_not_ready", retry_in_seconds=delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


@contextmanager
def _backend(database_url: str) -> Iterator[DatabaseBackend]:
    """yoyo keeps its connection open; close it, or the database stays "in use"."""
    backend = get_backend(database_url)
    try:
        yield backend
    finally:
        backend.connection.close()


def apply(database_url: str, migrations_dir: Path) -> list[str]:
    migrations = read_migrations(str(migrations_dir))
    with _backend(database_url) as backend, backend.lock(timeout=LOCK_TIMEOUT_SECONDS):
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    applied = [m.id for m in pending]
    log.info("migrations_applied", applied=applied)
    return applied


def rollback(database_url: str, migrations_dir: Path, count: int = 1) -> list[str]:
    """Roll back the newest `count` applied migrations."""
    migrations = read_migrations(str(migrations_dir))
    with _backend(database_url) as backend, backend.lock(timeout=LOCK_TIMEOUT_SECONDS):
        to_rollback = backend.to_rollback(migrations)[:count]
        backend.rollback_migrations(to_rollback)
    rolled_back = [m.id for m in to_rollback]
    log.info("migrations_rolled_back", rolled_back=rolled_back)
    return rolled_back


def head_id(migrations_dir: Path) -> str:
    """The id of the newest migration shipped with this build."""
    ids = sorted(m.id for m in read_migrations(str(migrations_dir)))
    if not ids:
        raise RuntimeError(f"no migrations found in {migrations_dir}")
    return ids[-1]
