"""Servers that belong to one fault test, so stopping them never affects the rest of the suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.helpers import ControlledRedis, migrate
from tests.reliability.pgcontrol import ControlledPostgres, controlled_postgres


@pytest.fixture
def own_postgres(tmp_path) -> Iterator[ControlledPostgres]:
    """A migrated PostgreSQL that this test alone may stop, freeze and restart."""
    with controlled_postgres(tmp_path / "own-postgres") as server:
        migrate(server.url())
        yield server


@pytest.fixture
def own_redis(tmp_path) -> Iterator[ControlledRedis]:
    """A Redis that this test alone may kill and restart on the same port."""
    server = ControlledRedis(tmp_path / "own-redis")
    server.start()
    try:
        yield server
    finally:
        server.close()
