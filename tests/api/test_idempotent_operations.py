"""Every operation that documents the Idempotency-Key header: the same request
with the same key twice has one effect, and the replay is the first answer's
exact bytes (createPartner's differs only by a newly rotated api_key)."""

import json

from gold_platform.http.openapi import document, resolve
from tests.api.conftest import OPERATOR


def idempotent_operations() -> set[str]:
    return {
        operation["operationId"]
        for item in document()["paths"].values()
        for operation in item.values()
        if any(resolve(p)["name"] == "Idempotency-Key" for p in operation.get("parameters", []))
    }


async def _user(api, partner, rate):
    return await api.user(partner, "cust-1")


async def _holding(api, partner, rate):
    user = await api.user(partner, "cust-1")
    await api.trade(partner, "buy", user["id"], rate["rate_id"], grams="1.0000")
    return user


async def _pending(api, partner, rate):
    user = await api.user(partner, "cust-1")
    return await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="100.00")


# operationId -> (set-up, the request it makes, a query over what it changes)
CASES = {
    "createPartner": (
        None,
        lambda ctx: ("POST", "/v1/admin/partners", OPERATOR, {"name": "acme-2"}),
        "SELECT count(*) FROM partners",
    ),
    "publishRate": (
        None,
        lambda ctx: (
            "POST",
            "/v1/admin/rates",
            OPERATOR,
            {"buy_price": "6100.00", "sell_price": "5900.00"},
        ),
        "SELECT count(*), max(published_at) FROM rates",
    ),
    "createUser": (
        None,
        lambda ctx: ("POST", "/v1/users", None, {"external_id": "cust-9"}),
        "SELECT count(*) FROM users",
    ),
    "attestKyc": (
        _user,
        lambda ctx: ("POST", f"/v1/users/{ctx['id']}/kyc", None, {"status": "verified"}),
        "SELECT kyc_status, kyc_verified_at FROM users",
    ),
    "verifyBuy": (
        _user,
        lambda ctx: (
            "POST",
            "/v1/transactions/buy",
            None,
            {"user_id": ctx["id"], "rate_id": ctx["rate_id"], "amount": "100.00"},
        ),
        "SELECT count(*) FROM transactions",
    ),
    "verifySell": (
        _holding,
        lambda ctx: (
            "POST",
            "/v1/transactions/sell",
            None,
            {"user_id": ctx["id"], "rate_id": ctx["rate_id"], "grams": "0.5000"},
        ),
        "SELECT count(*) FROM transactions",
    ),
    "confirmTransaction": (
        _pending,
        lambda ctx: ("POST", f"/v1/transactions/{ctx['id']}/confirm", None, None),
        "SELECT (SELECT count(*) FROM ledger_entries), (SELECT max(settled_at) FROM transactions)",
    ),
    "cancelTransaction": (
        _pending,
        lambda ctx: ("POST", f"/v1/transactions/{ctx['id']}/cancel", None, None),
        "SELECT status, count(*) FROM transactions GROUP BY status",
    ),
}


def test_every_operation_with_the_header_has_a_case():
    assert idempotent_operations() == set(CASES)


async def test_a_repeated_request_with_its_key_has_one_effect_and_the_same_bytes(
    make_client, settings, sql
):
    from tests.api.conftest import Api

    api = Api(await make_client(settings))
    partner = await api.partner()
    rate = await api.publish_rate()
    for number, operation_id in enumerate(sorted(idempotent_operations())):
        set_up, request, effects = CASES[operation_id]
        ctx = {"rate_id": rate["rate_id"]}
        if set_up is not None:
            ctx.update(await set_up(api, partner, rate), rate_id=rate["rate_id"])
        method, path, headers, body = request(ctx)
        headers = {**(headers or partner.headers), "Idempotency-Key": f"retry-{number}"}
        before = sql(effects)

        first = await api.client.request(method, path, headers=headers, json=body)
        first_bytes = await first.read()
        assert first.status in (200, 201), (operation_id, first_bytes)
        after_first = sql(effects)
        assert after_first != before or operation_id == "attestKyc", operation_id

        again = await api.client.request(method, path, headers=headers, json=body)
        again_bytes = await again.read()
        assert sql(effects) == after_first, f"{operation_id}: a second effect"
        assert again.status == first.status, operation_id
        assert again.headers["Idempotent-Replayed"] == "true", operation_id
        assert "Idempotent-Replayed" not in first.headers, operation_id
        if operation_id == "createPartner":
            answered, replayed = json.loads(first_bytes), json.loads(again_bytes)
            assert replayed.pop("api_key") != answered.pop("api_key")
            assert replayed == answered
        else:
            assert again_bytes == first_bytes, operation_id


async def test_a_retried_create_partner_gets_the_same_partner_and_a_working_key(api, sql):
    key = {**OPERATOR, "Idempotency-Key": "onboard-acme"}
    first = await api.call(
        "POST", "/v1/admin/partners", headers=key, json={"name": "acme"}, expect=201
    )
    # The answer was lost: the operator retries with the same key.
    retry = await api.call(
        "POST", "/v1/admin/partners", headers=key, json={"name": "acme"}, expect=201
    )
    assert (retry["id"], retry["name"], retry["created_at"]) == (
        first["id"],
        first["name"],
        first["created_at"],
    )
    assert sql("SELECT count(*) FROM partners")[0][0] == 1
    new_key = {"Authorization": f"Bearer {retry['api_key']}"}
    old_key = {"Authorization": f"Bearer {first['api_key']}"}
    await api.call("POST", "/v1/users", headers=new_key, json={"external_id": "u"}, expect=201)
    await api.call("POST", "/v1/users", headers=old_key, json={"external_id": "u"}, expect=401)

    stored = [bytes(row[0]) for row in sql("SELECT response_bytes FROM operator_idempotency_keys")]
    assert len(stored) == 1
    assert b"api_key" not in stored[0]
    for token in (first["api_key"], retry["api_key"]):
        assert token.encode() not in stored[0]
        assert token.rsplit("_", 1)[1].encode() not in stored[0]
    # Without a key, a second create is refused, as before.
    await api.call(
        "POST", "/v1/admin/partners", headers=OPERATOR, json={"name": "acme"}, expect=409
    )


async def test_a_replayed_rate_does_not_become_current_again(api, partner):
    key = {**OPERATOR, "Idempotency-Key": "rate-1"}
    body = {"buy_price": "6100.00", "sell_price": "5900.00"}
    first = await api.call("POST", "/v1/admin/rates", headers=key, json=body, expect=201)
    newer = await api.publish_rate("6200.00", "6000.00")
    assert await api.call("POST", "/v1/admin/rates", headers=key, json=body) == first
    current = await api.call("GET", "/v1/rates/current", headers=partner.headers, expect=200)
    assert current == newer


async def test_a_key_the_previous_release_stored_still_replays(api, partner, rate, sql, client):
    """Rows written before migration 0005 have only the jsonb copy of the answer."""
    user = await api.user(partner)
    key = {"Idempotency-Key": "from-release-n"}
    first = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="100.00", headers=key
    )
    sql("UPDATE idempotency_keys SET response_bytes = NULL")
    replay = await api.verify(
        partner, "buy", user["id"], rate["rate_id"], amount="100.00", headers=key
    )
    assert replay == first
    assert sql("SELECT count(*) FROM transactions")[0][0] == 1


async def test_the_operators_keys_are_purged_after_their_window(api, sql, client):
    from gold_platform.services.idempotency import purge_once
    from gold_platform.state import DB_POOL, SETTINGS

    ttl = client.app[SETTINGS].idempotency_key_ttl_hours
    for name in ("old", "recent"):
        await api.call(
            "POST",
            "/v1/admin/partners",
            headers={**OPERATOR, "Idempotency-Key": name},
            json={"name": name},
            expect=201,
        )
    sql(
        "UPDATE operator_idempotency_keys SET created_at = now() - make_interval(hours => %s)"
        " - interval '1 min' WHERE key = 'old'",
        (ttl,),
    )
    assert await purge_once(client.app[DB_POOL], ttl) == 1
    assert sql("SELECT key FROM operator_idempotency_keys") == [("recent",)]
