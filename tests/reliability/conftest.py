"""Servers that belong to one fault test, so stopping them never affects the rest of the suite."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.helpers import ControlledRedis, migrate
from tests.reliability.pgcontrol import ControlledPostgres, controlled_postgres


@pytest.fixture
def own_dir() -> Iterator[Path]:
    """Outside pytest's temp folder: a second pytest session resets that folder to
    mode 0700, which would lock the unprivileged PostgreSQL user out mid-test."""
    path = Path(tempfile.mkdtemp(prefix="gold-fault-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def own_postgres(own_dir) -> Iterator[ControlledPostgres]:
    """A migrated PostgreSQL that this test alone may stop, freeze and restart."""
    with controlled_postgres(own_dir / "postgres") as server:
        migrate(server.url())
        yield server


@pytest.fixture
def own_redis(own_dir) -> Iterator[ControlledRedis]:
    """A Redis that this test alone may kill and restart on the same port."""
    server = ControlledRedis(own_dir / "redis")
    server.start()
    try:
        yield server
    finally:
        server.close()
