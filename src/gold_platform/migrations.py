"""Schema migrations with yoyo: plain SQL files, each with a rollback.

yoyo takes a PostgreSQL advisory lock around `apply`, so several pods may run
`gold-platform migrate` at once: one applies, the others wait and find nothing
left to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from yoyo import get_backend, read_migrations
from yoyo.backends import DatabaseBackend

from .observability.logs import get_logger

log = get_logger(__name__)
LOCK_TIMEOUT_SECONDS = 60


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
