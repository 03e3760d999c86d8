"""Driving the service (in-process test client or a real gunicorn) as operator and partner,
and controlling the Redis a fault test owns."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psycopg2

from gold_devtools import devstack
from gold_platform import migrations
from gold_platform.settings import REPO_MIGRATIONS_DIR
from tests.conftest import OPERATOR_KEY

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
PROBLEM_JSON = "application/problem+json"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Reply:
    status: int
    body: Any
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""


@dataclass
class Partner:
    id: str
    key: str
    name: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


class Api:
    """Works with an aiohttp TestClient or a ClientSession made with base_url=."""

    def __init__(self, client) -> None:
        self.client = client

    async def call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        expect: int | None = None,
        **kw,
    ) -> Reply:
        async with self.client.request(method, path, headers=headers or {}, **kw) as response:
            raw = await response.read()
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = raw.decode(errors="replace")
            reply = Reply(response.status, body, response.content_type, dict(response.headers), raw)
        if expect is not None:
            assert reply.status == expect, (method, path, reply.status, reply.body)
        return reply

    async def partner(self, name: str) -> Partner:
        reply = await self.call(
            "POST", "/v1/admin/partners", headers=OPERATOR, json={"name": name}, expect=201
        )
        return Partner(reply.body["id"], reply.body["api_key"], name)

    async def publish_rate(self, buy: str = "6000.00", sell: str = "5800.00") -> dict:
        reply = await self.call(
            "POST",
            "/v1/admin/rates",
            headers=OPERATOR,
            json={"buy_price": buy, "sell_price": sell},
            expect=201,
        )
        return reply.body

    async def user(self, partner: Partner, external_id: str, *, kyc: bool = True) -> dict:
        reply = await self.call(
            "POST", "/v1/users", headers=partner.headers, json={"external_id": external_id}
        )
        assert reply.status in (200, 201), reply.body
        if kyc:
            reply = await self.call(
                "POST",
                f"/v1/users/{reply.body['id']}/kyc",
                headers=partner.headers,
                json={"status": "verified"},
                expect=200,
            )
        return reply.body

    async def verify(
        self, partner: Partner, side: str, user_id: str, rate_id: str, **quantity
    ) -> Reply:
        return await self.call(
            "POST",
            f"/v1/transactions/{side}",
            headers=partner.headers,
            json={"user_id": user_id, "rate_id": rate_id, **quantity},
        )

    async def confirm(self, partner: Partner, tx_id: str, headers=None) -> Reply:
        return await self.call(
            "POST",
            f"/v1/transactions/{tx_id}/confirm",
            headers={**partner.headers, **(headers or {})},
        )

    async def buy(self, partner: Partner, user_id: str, rate_id: str, grams: str) -> dict:
        tx = await self.verify(partner, "buy", user_id, rate_id, grams=grams)
        assert tx.status == 201, tx.body
        done = await self.confirm(partner, tx.body["id"])
        assert done.status == 200, done.body
        return done.body

    async def reconcile(self) -> dict:
        return (
            await self.call("GET", "/v1/admin/reconciliation", headers=OPERATOR, expect=200)
        ).body


async def scrape(metrics_url: str, name: str, labels: str = "") -> float:
    """Sum of a Prometheus sample at the metrics listener (e.g. 'cache_operations_total', 'result="error"')."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(metrics_url) as response:
            assert response.status == 200, (metrics_url, response.status)
            return metric_value(await response.text(), name, labels)


def metric_value(text: str, name: str, labels: str = "") -> float:
    total = 0.0
    pattern = re.compile(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", re.MULTILINE)
    for match in pattern.finditer(text):
        if labels and labels not in (match.group(1) or ""):
            continue
        total += float(match.group(2))
    return total


def session_for(base_url: str, **kw) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url=base_url, timeout=aiohttp.ClientTimeout(total=kw.pop("timeout", 30)), **kw
    )


def migrate(database_url: str) -> None:
    migrations.apply(database_url, REPO_MIGRATIONS_DIR)


def table_counts(database_url: str, tables: tuple[str, ...] | None = None) -> dict[str, int]:
    """Row counts of every table of the service (read straight from PostgreSQL)."""
    tables = tables or (
        "partners",
        "rates",
        "users",
        "accounts",
        "transactions",
        "ledger_entries",
        "idempotency_keys",
    )
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        counts = {}
        for table in tables:
            cur.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (fixed names, not input)
            counts[table] = cur.fetchone()[0]
    conn.close()
    return counts


def service_env(database_url: str, redis_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url,
        "OPERATOR_API_KEY": OPERATOR_KEY,
        "DATABASE_POOL_SIZE": "4",
        "DATABASE_MAX_OVERFLOW": "6",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


class ControlledRedis:
    """A Redis owned by one test, which the test may kill (SIGKILL, by PID) and
    start again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = devstack.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._stack = ExitStack()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        _url, self.process = self._stack.enter_context(
            devstack.redis_server(self.workdir, self.port)
        )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self._stack.close()


@dataclass
class Probe:
    samples: list[tuple[float, int, str]] = field(default_factory=list)

    def during(self, start: float, end: float) -> list[tuple[float, int, str]]:
        return [s for s in self.samples if start <= s[0] < end]


async def probe_readiness(base_url: str, stop: asyncio.Event, probe: Probe) -> None:
    async with session_for(base_url, timeout=5) as session:
        api = Api(session)
        while not stop.is_set():
            at = time.monotonic()
            try:
                reply = await api.call("GET", "/health/ready")
                status = reply.body.get("status", "?") if isinstance(reply.body, dict) else "?"
                probe.samples.append((at, reply.status, status))
            except Exception as exc:  # the probe records, the test asserts
                probe.samples.append((at, 0, type(exc).__name__))
            await asyncio.sleep(0.25)


FIGURES = REPO / ".cache" / "reliability" / "figures.txt"


def show_figures(*parts: object) -> None:
    """Print a test's figures and keep them in .cache/reliability/figures.txt
    (`make reliability-tests` shows that file after the run)."""
    text = " ".join(str(p) for p in parts).strip()
    print("\n" + text)
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES.open("a") as out:
        out.write(text + "\n")
