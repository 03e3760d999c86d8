"""Helpers for driving the API as a partner and as the operator."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2
import pytest

from tests.conftest import OPERATOR_KEY

OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}


@dataclass
class Partner:
    id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


class Api:
    """Thin wrapper over the test client that asserts the expected status."""

    def __init__(self, client) -> None:
        self.client = client

    async def call(self, method: str, path: str, *, headers=None, expect: int | None = None, **kw):
        response = await self.client.request(method, path, headers=headers or {}, **kw)
        body = await response.json(content_type=None)
        if expect is not None:
            assert response.status == expect, (response.status, body)
        return body

    async def partner(self, name: str = "acme") -> Partner:
        body = await self.call(
            "POST", "/v1/admin/partners", headers=OPERATOR, json={"name": name}, expect=201
        )
        return Partner(body["id"], body["api_key"])

    async def publish_rate(self, buy: str = "6000.00", sell: str = "5800.00", **extra) -> dict:
        return await self.call(
            "POST",
            "/v1/admin/rates",
            headers=OPERATOR,
            json={"buy_price": buy, "sell_price": sell, **extra},
            expect=201,
        )

    async def user(
        self, partner: Partner, external_id: str = "user-1", *, kyc: bool = False
    ) -> dict:
        user = await self.call(
            "POST", "/v1/users", headers=partner.headers, json={"external_id": external_id}
        )
        if kyc:
            user = await self.call(
                "POST",
                f"/v1/users/{user['id']}/kyc",
                headers=partner.headers,
                json={"status": "verified"},
                expect=200,
            )
        return user

    async def verify(
        self,
        partner: Partner,
        side: str,
        user_id: str,
        rate_id: str,
        *,
        expect: int | None = 201,
        headers=None,
        **quantity,
    ) -> dict:
        return await self.call(
            "POST",
            f"/v1/transactions/{side}",
            headers={**partner.headers, **(headers or {})},
            json={"user_id": user_id, "rate_id": rate_id, **quantity},
            expect=expect,
        )

    async def confirm(
        self, partner: Partner, tx_id: str, *, expect: int | None = 200, headers=None
    ):
        return await self.call(
            "POST",
            f"/v1/transactions/{tx_id}/confirm",
            headers={**partner.headers, **(headers or {})},
            expect=expect,
        )

    async def trade(self, partner: Partner, side: str, user_id: str, rate_id: str, **quantity):
        tx = await self.verify(partner, side, user_id, rate_id, **quantity)
        return await self.confirm(partner, tx["id"])

    async def reconcile(self) -> dict:
        return await self.call("GET", "/v1/admin/reconciliation", headers=OPERATOR, expect=200)


@pytest.fixture
def sql(database_url):
    """Run SQL directly against the test database (to age rows, or to inspect them)."""
    conn = psycopg2.connect(database_url)
    conn.autocommit = True

    def run(statement: str, params=()):
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None

    yield run
    conn.close()


@pytest.fixture
async def api(client) -> Api:
    return Api(client)


@pytest.fixture
async def partner(api) -> Partner:
    return await api.partner()


@pytest.fixture
async def rate(api) -> dict:
    return await api.publish_rate()
