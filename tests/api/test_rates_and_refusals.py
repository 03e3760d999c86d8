"""The current rate only while it can be quoted; refusals that once were a 500,
a false key reuse, or a partner nobody can read."""

import pytest
from aiohttp import web

from gold_platform.app import create_app
from gold_platform.domain.errors import DomainError
from tests.api.conftest import OPERATOR

PROBLEM = "application/problem+json"


async def test_an_expired_rate_is_never_presented_as_current(api, partner, rate, sql, redis_url):
    import redis as redis_sync

    sql(
        "UPDATE rates SET published_at = now() - interval '1 hour',"
        " valid_until = now() - interval '50 minutes'"
    )
    redis_sync.Redis.from_url(redis_url).delete("rate:current:INR")  # as after its TTL
    response = await api.client.get("/v1/rates/current", headers=partner.headers)
    body = await response.json()
    assert (response.status, response.content_type) == (503, PROBLEM), body
    assert body["type"].endswith("/rate-stale")
    assert "expired" in body["detail"]
    assert int(response.headers["Retry-After"]) >= 1

    fresh = await api.publish_rate()
    assert await api.call("GET", "/v1/rates/current", headers=partner.headers, expect=200) == fresh


async def test_a_bare_domain_error_is_a_422_problem(aiohttp_client, settings):
    async def refuse(request: web.Request) -> web.Response:
        raise DomainError("No rule has a name for this yet.")

    app = create_app(settings)
    app.router.add_get("/refuse", refuse)
    client = await aiohttp_client(app)
    response = await client.get("/refuse")
    body = await response.json()
    assert (response.status, response.content_type) == (422, PROBLEM), body
    assert body["type"].endswith("/domain-error")
    assert body["detail"] == "No rule has a name for this yet."


async def test_an_upper_case_id_in_the_path_is_the_same_request_for_its_key(api, partner, rate):
    user = await api.user(partner)
    tx = await api.verify(partner, "buy", user["id"], rate["rate_id"], amount="100.00")
    key = {"Idempotency-Key": "confirm-once"}
    first = await api.confirm(partner, tx["id"].upper(), headers=key)
    again = await api.confirm(partner, tx["id"], headers=key)
    assert again == first and first["status"] == "confirmed"


@pytest.mark.parametrize("name", ["   ", "\u200b", "\u200b\u200d", "\u3000", " \u00a0 "])
async def test_a_partner_name_nobody_can_read_is_refused(api, sql, name):
    problem = await api.call(
        "POST", "/v1/admin/partners", headers=OPERATOR, json={"name": name}, expect=422
    )
    assert problem["errors"] == [
        {"field": "name", "message": "must contain a visible character, not only spaces"}
    ]
    assert sql("SELECT count(*) FROM partners")[0][0] == 0


async def test_a_name_with_a_visible_character_is_taken_as_given(api):
    created = await api.call(
        "POST", "/v1/admin/partners", headers=OPERATOR, json={"name": " acme\u200b "}, expect=201
    )
    assert created["name"] == " acme\u200b "
