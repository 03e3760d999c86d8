"""Fixtures for the security tests: a populated service, in-process (fast)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.reliability.helpers import Api, Partner


@dataclass
class World:
    api: Api
    alice: Partner
    bob: Partner
    rate: dict
    alice_user: dict
    bob_user: dict
    alice_tx: dict
    bob_tx: dict


@pytest.fixture
async def world(client) -> World:
    """Two partners, each with a KYC'd user holding gold and a pending trade."""
    api = Api(client)
    alice, bob = await api.partner("alice-corp"), await api.partner("bob-corp")
    rate = await api.publish_rate()
    alice_user = await api.user(alice, "alice-1")
    bob_user = await api.user(bob, "bob-1")
    await api.buy(alice, alice_user["id"], rate["rate_id"], grams="1.0000")
    await api.buy(bob, bob_user["id"], rate["rate_id"], grams="1.0000")
    alice_tx = (
        await api.verify(alice, "sell", alice_user["id"], rate["rate_id"], grams="0.1")
    ).body
    bob_tx = (await api.verify(bob, "sell", bob_user["id"], rate["rate_id"], grams="0.1")).body
    return World(api, alice, bob, rate, alice_user, bob_user, alice_tx, bob_tx)
