"""Who may call what: keys, roles, tenants, and how keys are kept."""

from __future__ import annotations

import hashlib
import uuid

import psycopg2
import pytest

from gold_platform.http import auth
from gold_platform.routes import API_ROUTES
from tests.conftest import OPERATOR_KEY
from tests.reliability.helpers import OPERATOR, PROBLEM_JSON, show_figures

PUBLIC = {"/v1/openapi.json", "/v1/docs"}


def concrete(path: str, ids: dict[str, str] | None = None) -> str:
    ids = ids or {}
    return path.format(
        user_id=ids.get("user_id", str(uuid.uuid4())),
        transaction_id=ids.get("transaction_id", str(uuid.uuid4())),
    )


ROUTES = sorted(API_ROUTES)
OPERATOR_ROUTES = [r for r in ROUTES if r[1].startswith("/v1/admin/")]
PARTNER_ONLY_ROUTES = [
    r for r in ROUTES if not r[1].startswith("/v1/admin/") and not r[1].startswith("/v1/rates/")
]


def test_every_v1_route_is_covered():
    """The route table is the source of the parametrised tests below."""
    assert len(ROUTES) >= 15
    assert all(path.startswith("/v1/") for _, path in ROUTES)


BAD_CREDENTIALS = {
    "none": {},
    "empty": {"Authorization": ""},
    "basic": {"Authorization": "Basic b3BlcmF0b3I6c2VjcmV0"},
    "bearer-only": {"Authorization": "Bearer"},
    "bearer-blank": {"Authorization": "Bearer    "},
    "garbage": {"Authorization": "Bearer not-a-key"},
    "malformed-gp": {"Authorization": "Bearer gp_short_secret"},
    "unknown-key-id": {"Authorization": "Bearer gp_0123456789abcdef_" + "x" * 43},
    "operator-prefix": {"Authorization": f"Bearer {OPERATOR_KEY[:-1]}"},
    "operator-longer": {"Authorization": f"Bearer {OPERATOR_KEY}x"},
}


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
async def test_every_route_refuses_missing_or_bad_keys(client, method, path):
    statuses = {}
    for name, headers in BAD_CREDENTIALS.items():
        response = await client.request(method, concrete(path), headers=headers, json={})
        body = await response.json(content_type=None)
        statuses[name] = response.status
        assert response.status == 401, (name, response.status, body)
        assert response.content_type == PROBLEM_JSON
        assert body["type"].endswith("/unauthorized")
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")
    show_figures(f"\n[no-key] {method} {path}: {statuses}")


async def test_public_documents_need_no_key(client):
    for path in sorted(PUBLIC):
        response = await client.get(path)
        assert response.status == 200, path


@pytest.mark.parametrize(
    ("method", "path"), OPERATOR_ROUTES, ids=[f"{m} {p}" for m, p in OPERATOR_ROUTES]
)
async def test_operator_routes_refuse_partner_keys(world, method, path):
    reply = await world.api.call(method, path, headers=world.alice.headers, json={"name": "x"})
    show_figures(f"\n[partner-on-operator-route] {method} {path}: {reply.status}")
    assert reply.status == 403, reply.body
    assert reply.content_type == PROBLEM_JSON
    assert reply.body["type"].endswith("/forbidden")


@pytest.mark.parametrize(
    ("method", "path"), PARTNER_ONLY_ROUTES, ids=[f"{m} {p}" for m, p in PARTNER_ONLY_ROUTES]
)
async def test_partner_routes_refuse_the_operator_key(world, method, path):
    """The operator manages the platform; it does not act for partners' users."""
    ids = {"user_id": world.alice_user["id"], "transaction_id": world.alice_tx["id"]}
    reply = await world.api.call(method, concrete(path, ids), headers=OPERATOR, json={})
    assert reply.status == 403, reply.body
    assert reply.body["type"].endswith("/forbidden")


TENANT_ROUTES = [
    ("GET", "/v1/users/{user_id}", None),
    ("GET", "/v1/users/{user_id}/portfolio", None),
    ("GET", "/v1/users/{user_id}/transactions", None),
    ("POST", "/v1/users/{user_id}/kyc", {"status": "verified"}),
    ("GET", "/v1/transactions/{transaction_id}", None),
    ("POST", "/v1/transactions/{transaction_id}/confirm", None),
    ("POST", "/v1/transactions/{transaction_id}/cancel", None),
]


def _comparable(reply) -> tuple:
    body = dict(reply.body)
    body.pop("instance", None)  # echoes the requested path, which differs by id
    return reply.status, reply.content_type, tuple(sorted(body.items()))


async def test_other_partners_ids_look_exactly_like_missing_ones(world, database_url):
    api, bob = world.api, world.bob
    before = _snapshot(database_url)
    for method, path, body in TENANT_ROUTES:
        alices = {"user_id": world.alice_user["id"], "transaction_id": world.alice_tx["id"]}
        foreign = await api.call(method, concrete(path, alices), headers=bob.headers, json=body)
        missing = await api.call(method, concrete(path), headers=bob.headers, json=body)
        show_figures(
            f"\n[cross-tenant] {method} {path}: foreign={foreign.status} missing={missing.status}"
        )
        assert foreign.status == 404, foreign.body
        assert _comparable(foreign) == _comparable(missing)
    # Trading on another partner's user, with bob's own valid rate: also "no such user".
    for side in ("buy", "sell"):
        foreign = await api.verify(
            bob, side, world.alice_user["id"], world.rate["rate_id"], grams="0.1"
        )
        missing = await api.verify(bob, side, str(uuid.uuid4()), world.rate["rate_id"], grams="0.1")
        assert foreign.status == 404, foreign.body
        assert _comparable(foreign) == _comparable(missing)
    assert _snapshot(database_url) == before, "a cross-tenant request changed something"


def _snapshot(database_url: str) -> list:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT u.id, u.kyc_status, a.balance, "
            " (SELECT array_agg(t.status ORDER BY t.id) FROM transactions t WHERE t.user_id = u.id)"
            " FROM users u JOIN accounts a ON a.user_id = u.id AND a.kind = 'user_gold'"
            " ORDER BY u.id"
        )
        rows = cur.fetchall()
    conn.close()
    return rows


async def test_a_partner_still_sees_its_own(world):
    own = await world.api.call(
        "GET", f"/v1/users/{world.alice_user['id']}", headers=world.alice.headers
    )
    assert own.status == 200


async def test_keys_are_stored_hashed(world, database_url):
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM partners ORDER BY name")
        columns = [c.name for c in cur.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    conn.close()
    assert {r["name"] for r in rows} == {"alice-corp", "bob-corp"}
    for partner in (world.alice, world.bob):
        _prefix, key_id, secret = partner.key.split("_", 2)
        row = next(r for r in rows if r["key_id"] == key_id)
        stored = b"".join(
            bytes(v) if isinstance(v, memoryview) else str(v).encode() for v in row.values()
        )
        assert secret.encode() not in stored and partner.key.encode() not in stored
        assert bytes(row["key_hash"]) == hashlib.sha256(secret.encode()).digest()
        show_figures(f"\n[key-storage] columns={columns} key_id={key_id} secret stored: no")


async def test_wrong_secret_for_a_real_key_id_is_refused(world):
    _prefix, key_id, secret = world.alice.key.split("_", 2)
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    tries = {
        "one-char-off": f"gp_{key_id}_{wrong}",
        "prefix": f"gp_{key_id}_{secret[:10]}",
        "empty-ish": f"gp_{key_id}_x",
        "longer": f"gp_{key_id}_{secret}x",
        "other-partners-secret": f"gp_{key_id}_{world.bob.key.split('_', 2)[2]}",
    }
    unknown = await world.api.call(
        "GET", "/v1/rates/current", headers={"Authorization": "Bearer gp_0123456789abcdef_nope"}
    )
    for name, token in tries.items():
        reply = await world.api.call(
            "GET", "/v1/rates/current", headers={"Authorization": f"Bearer {token}"}
        )
        assert reply.status == 401, name
        # Same answer as for a key id that does not exist: nothing to tell them apart.
        assert _comparable(reply) == _comparable(unknown), name


async def test_key_check_is_a_lookup_by_id_then_a_constant_time_compare(world, monkeypatch):
    """Every key not yet verified costs the same work: a lookup by key id
    (never by the secret) and one hmac.compare_digest of secret hashes, against
    a dummy hash when the id is unknown. Once a key has been verified, it is
    found by the SHA-256 of the whole token, which a wrong secret never
    matches. Pass-through spies record what the real code does."""
    compared: list[tuple[bytes, bytes]] = []
    looked_up: list[str] = []
    real_compare, real_find = auth.hmac.compare_digest, auth.partners.find_by_key_id

    def compare_spy(a, b):
        compared.append((a, b))
        return real_compare(a, b)

    async def find_spy(cur, key_id):
        looked_up.append(key_id)
        return await real_find(cur, key_id)

    monkeypatch.setattr(auth.hmac, "compare_digest", compare_spy)
    monkeypatch.setattr(auth.partners, "find_by_key_id", find_spy)

    carol = await world.api.partner("carol-corp")  # a key no request has used yet
    key_id, secret = carol.key.removeprefix("gp_").split("_", 1)
    unknown_id = "f" * len(key_id)
    cases = {
        "valid": (carol.key, 200),
        "wrong secret": (f"gp_{key_id}_{'x' * len(secret)}", 401),
        "unknown key id": (f"gp_{unknown_id}_{secret}", 401),
        "not a key": ("plain-garbage", 401),
    }
    for name, (token, status) in cases.items():
        compared.clear()
        reply = await world.api.call(
            "GET", "/v1/rates/current", headers={"Authorization": f"Bearer {token}"}
        )
        assert reply.status == status, name
        # The operator key, then the partner secret: two compares, each time.
        assert len(compared) == 2, (name, len(compared))
        assert all(len(a) == len(b) == 32 for a, b in compared), name
        assert secret not in " ".join(looked_up), "the secret must never be a lookup key"
    assert unknown_id in looked_up
    compared.clear()
    looked_up.clear()
    again = await world.api.call(
        "GET", "/v1/rates/current", headers={"Authorization": f"Bearer {carol.key}"}
    )
    assert again.status == 200
    assert compared == [] and looked_up == [], "a verified key is found by its token's hash"
    operator = await world.api.call(
        "GET", "/v1/admin/reconciliation", headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
    )
    assert operator.status == 200
