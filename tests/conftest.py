"""Real PostgreSQL and Redis for the whole suite.

DATABASE_URL / REDIS_URL, when set, point at servers to use (CI service
containers); otherwise the session starts throwaway ones with devstack
(PostgreSQL 14, or GOLD_POSTGRES_MAJOR's). The line after "collected N items"
names the server's version. Every test that needs a database gets a fresh one,
cloned from a migrated template, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import replace
from pathlib import Path

import psycopg2
import pytest
import redis as redis_sync
from psycopg2.extensions import make_dsn, parse_dsn

from gold_devtools import devstack, postgres_binaries
from gold_platform import migrations
from gold_platform.settings import REPO_MIGRATIONS_DIR, Settings

TEMPLATE_DB = "gold_platform_test_template"


def database_url_for(server_url: str, name: str) -> str:
    params = parse_dsn(server_url)
    params["dbname"] = name
    return "postgresql://" + _dsn_to_url(params)


def _dsn_to_url(params: dict[str, str]) -> str:
    user = params.get("user", "postgres")
    password = f":{params['password']}" if params.get("password") else ""
    host = params.get("host", "127.0.0.1")
    port = params.get("port", "5432")
    return f"{user}{password}@{host}:{port}/{params['dbname']}"


def admin_connection(server_url: str):
    params = parse_dsn(server_url)
    params["dbname"] = "postgres"
    conn = psycopg2.connect(make_dsn(**params))
    conn.autocommit = True
    return conn


class SuitePostgres:
    """The session's PostgreSQL: DATABASE_URL's, or a throwaway one started on first use.

    Started by the report line after collection (when a collected test needs
    it) so that line can show the real server's version, and stopped when
    pytest ends; sessions without database tests start nothing.
    """

    def __init__(self) -> None:
        self._servers = ExitStack()
        self._url = os.environ.get("DATABASE_URL")
        self.origin = "DATABASE_URL set"

    @property
    def url(self) -> str:
        if self._url is None:
            workdir = Path(tempfile.mkdtemp(prefix="gold-test-postgres-"))
            self._servers.callback(shutil.rmtree, workdir, ignore_errors=True)
            server = devstack.PostgresServer(workdir)
            self._servers.callback(server.remove)
            server.start()
            self._url = server.url()
            self.origin = (
                f"DATABASE_URL unset: throwaway server from "
                f"{postgres_binaries.NPM_PACKAGE} {server.npm_version}"
            )
        return self._url

    def version(self) -> str:
        with closing(admin_connection(self.url)) as conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            return cur.fetchone()[0]

    def close(self) -> None:
        self._servers.close()


SUITE_POSTGRES = pytest.StashKey[SuitePostgres]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SUITE_POSTGRES] = SuitePostgres()


def pytest_unconfigure(config: pytest.Config) -> None:
    config.stash[SUITE_POSTGRES].close()


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]) -> str | None:
    """E.g. "PostgreSQL 14.23 (DATABASE_URL unset: throwaway server from ...)"."""
    if not any("pg_server_url" in getattr(item, "fixturenames", ()) for item in items):
        return None
    server = config.stash[SUITE_POSTGRES]
    try:
        version = server.version()
    except (devstack.DevStackError, postgres_binaries.BinariesError, psycopg2.Error) as exc:
        pytest.exit(
            f"no PostgreSQL for the suite: {exc}", returncode=pytest.ExitCode.INTERNAL_ERROR
        )
    return f"PostgreSQL {version} ({server.origin})"


@pytest.fixture(scope="session")
def stack_dir() -> Iterator[Path]:
    """The session's Redis folder, outside pytest's own temp folder (which
    another pytest session may clean up while this one runs)."""
    path = Path(tempfile.mkdtemp(prefix="gold-test-stack-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_url(pytestconfig) -> str:
    return pytestconfig.stash[SUITE_POSTGRES].url


@pytest.fixture(scope="session")
def redis_server_url(stack_dir) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with devstack.redis_server(stack_dir / "redis") as (url, _process):
        yield url


@pytest.fixture(scope="session")
def template_database(pg_server_url) -> str:
    conn = admin_connection(pg_server_url)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    conn.close()
    migrations.apply(database_url_for(pg_server_url, TEMPLATE_DB), REPO_MIGRATIONS_DIR)
    return TEMPLATE_DB


@contextmanager
def fresh_database(server_url: str, prefix: str, template: str | None = None) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = admin_connection(server_url)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    try:
        yield database_url_for(server_url, name)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.close()


@pytest.fixture
def database_url(pg_server_url, template_database) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    with fresh_database(pg_server_url, "gp_test", template_database) as url:
        yield url


@pytest.fixture
def empty_database_url(pg_server_url) -> Iterator[str]:
    """A fresh database with no migrations applied."""
    with fresh_database(pg_server_url, "gp_empty") as url:
        yield url


@pytest.fixture
def redis_url(redis_server_url) -> str:
    client = redis_sync.Redis.from_url(redis_server_url)
    client.flushdb()
    client.close()
    return redis_server_url


OPERATOR_KEY = "operator-key-for-tests-only-0123456789"


@pytest.fixture
def settings(database_url, redis_url) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DATABASE_POOL_SIZE": "2",
            "DATABASE_MAX_OVERFLOW": "8",
            "LOG_FORMAT": "json",
            "OPERATOR_API_KEY": OPERATOR_KEY,
        }
    )


@pytest.fixture
def make_client(aiohttp_client):
    """Builds a test client for an app made from (possibly adjusted) settings."""
    from gold_platform.app import create_app

    async def make(settings: Settings, **changes):
        return await aiohttp_client(create_app(replace(settings, **changes)))

    return make


@pytest.fixture
async def client(make_client, settings):
    return await make_client(settings)
