"""Database round trips per trade request: BEGIN rides with the first statement,
COMMIT with the idempotency record, and the key's claim reads what the use
case needs (docs/benchmarks.md). Counted on the driver, per asyncio task (the
request's), so the service's background loops never count."""

from __future__ import annotations

import asyncio
import collections

import aiopg
import pytest


@pytest.fixture
def round_trips(monkeypatch):
    """{task: [statements sent]}: one aiopg execute is one round trip."""
    sent: dict[asyncio.Task | None, list[str]] = collections.defaultdict(list)
    original = aiopg.Cursor.execute

    async def counting(self, operation, parameters=None, *args, **kwargs):
        sent[asyncio.current_task()].append(operation)
        return await original(self, operation, parameters, *args, **kwargs)

    monkeypatch.setattr(aiopg.Cursor, "execute", counting)
    return sent


def request_statements(sent) -> list[str]:
    """The statements of the one task that claimed an idempotency key."""
    (statements,) = [ops for ops in sent.values() if any("idempotency_keys" in op for op in ops)]
    return statements


async def test_verify_and_confirm_take_three_round_trips_each(api, partner, rate, round_trips):
    user = await api.user(partner)
    round_trips.clear()
    tx = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="100.00",
        headers={"Idempotency-Key": "rt-verify"},
    )  # fmt: skip
    verify = request_statements(round_trips)
    round_trips.clear()
    confirmed = await api.confirm(partner, tx["id"], headers={"Idempotency-Key": "rt-confirm"})
    confirm = request_statements(round_trips)

    assert confirmed["status"] == "confirmed"
    assert len(verify) == 3, verify
    assert verify[0].startswith("BEGIN") and "FROM users u" in verify[0]
    assert "FROM rates" in verify[0]
    assert verify[-1].endswith("; COMMIT")
    assert len(confirm) == 3, confirm
    assert confirm[0].startswith("BEGIN") and "FOR UPDATE OF g" in confirm[0]
    assert confirm[-1].endswith("; COMMIT")
    # Every statement was sent inside the one transaction, which committed.
    shown = await api.call("GET", f"/v1/transactions/{tx['id']}", headers=partner.headers)
    assert shown == confirmed


async def test_a_replay_reads_nothing_and_sends_no_write(api, partner, rate, round_trips):
    user = await api.user(partner)
    tx = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="100.00",
        headers={"Idempotency-Key": "rt-replay"},
    )  # fmt: skip
    round_trips.clear()
    again = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="100.00",
        headers={"Idempotency-Key": "rt-replay"},
    )  # fmt: skip
    assert again == tx
    statements = request_statements(round_trips)
    # The claim (with BEGIN), then COMMIT: no insert, no record.
    assert len(statements) == 2, statements
    assert statements[-1] == "COMMIT"


async def test_without_a_key_the_reads_still_share_one_round_trip(api, partner, rate, round_trips):
    user = await api.user(partner)
    round_trips.clear()
    tx = await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="100.00")
    (statements,) = [
        ops for ops in round_trips.values() if any("INSERT INTO transactions" in op for op in ops)
    ]
    # BEGIN + the user and rate reads, the insert, COMMIT.
    assert len(statements) == 3, statements
    assert statements[0].startswith("BEGIN") and "FROM rates" in statements[0]
    assert statements[-1] == "COMMIT"
    confirmed = await api.confirm(partner, tx["id"])
    assert confirmed["status"] == "confirmed"
