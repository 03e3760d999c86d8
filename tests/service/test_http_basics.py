"""Probes, problem+json errors, request ids and access logs, in one process."""

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

from gold_devtools.devstack import free_port
from gold_platform import migrations
from gold_platform.app import create_app
from gold_platform.observability.metrics import metrics_app
from gold_platform.settings import REPO_MIGRATIONS_DIR

NEXT_MIGRATION = Path(__file__).parents[2] / "scripts" / "cluster" / "next_migration.py"

PROBLEM = "application/problem+json"


async def test_liveness_needs_no_dependency(make_client, settings):
    dead = f"postgresql://nobody@127.0.0.1:{free_port()}/nothing"
    client = await make_client(settings, database_url=dead, database_pool_size=1)
    # The pool is created lazily enough that the app starts; /health never touches it.
    response = await client.get("/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_ready_when_migrated_and_redis_up(client):
    response = await client.get("/health/ready")
    body = await response.json()
    assert response.status == 200, body
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] is True
    assert (
        body["checks"]["database"]["migration"] == body["checks"]["database"]["expected_migration"]
    )
    assert body["checks"]["redis"]["ok"] is True


async def test_degraded_but_ready_when_redis_is_down(make_client, settings):
    client = await make_client(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    response = await client.get("/health/ready")
    body = await response.json()
    assert response.status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


async def test_ready_without_redis_configured_is_degraded(make_client, settings):
    client = await make_client(settings, redis_url=None)
    body = await (await client.get("/health/ready")).json()
    assert body["status"] == "degraded"
    assert body["checks"]["redis"] == {"ok": False, "configured": False}


async def test_not_ready_when_migrations_are_behind(make_client, settings, empty_database_url):
    client = await make_client(settings, database_url=empty_database_url)
    response = await client.get("/health/ready")
    assert response.status == 503
    assert (await response.json())["status"] == "not_ready"


async def test_ready_when_the_schema_is_ahead_of_this_build(make_client, settings, tmp_path):
    """The next release's migration runs before its pods start (and stays on
    rollback): pods of this build must stay Ready on that schema."""
    ahead = tmp_path / "migrations"
    shutil.copytree(REPO_MIGRATIONS_DIR, ahead)
    added = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(NEXT_MIGRATION), str(ahead)],
        capture_output=True,
        text=True,
        check=True,
    )
    newer = added.stdout.strip()
    assert migrations.apply(settings.database_url, ahead) == [newer]

    response = await (await make_client(settings)).get("/health/ready")
    body = await response.json()
    assert response.status == 200, body
    assert body["checks"]["database"]["migration"] == newer
    assert body["checks"]["database"]["expected_migration"] == migrations.head_id(
        REPO_MIGRATIONS_DIR
    )


async def test_not_ready_when_this_builds_newest_migration_is_missing(make_client, settings):
    migrations.rollback(settings.database_url, REPO_MIGRATIONS_DIR, count=1)
    response = await (await make_client(settings)).get("/health/ready")
    body = await response.json()
    assert response.status == 503
    assert body["status"] == "not_ready"
    assert body["checks"]["database"]["ok"] is False


async def test_problem_json_for_404_and_405(client):
    response = await client.get("/no/such/route")
    assert response.status == 404
    assert response.content_type == PROBLEM
    body = await response.json()
    assert body["status"] == 404
    assert body["type"].endswith("/not-found")
    assert body["instance"] == "/no/such/route"

    response = await client.post("/health")
    assert response.status == 405
    assert response.content_type == PROBLEM
    assert "GET" in response.headers["Allow"]
    assert (await response.json())["type"].endswith("/method-not-allowed")


async def test_500_hides_details_and_logs_them(aiohttp_client, settings, capsys):
    app = create_app(settings)

    async def boom(request):
        raise RuntimeError("secret internal detail")

    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)
    response = await client.get("/boom", headers={"X-Request-ID": "req-500"})
    assert response.status == 500
    assert response.content_type == PROBLEM
    text = await response.text()
    assert "secret internal detail" not in text
    assert json.loads(text)["type"].endswith("/internal-error")

    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    errors = [line for line in lines if line["event"] == "unhandled_error"]
    assert errors and errors[0]["request_id"] == "req-500"
    frames = json.dumps(errors[0]["exception"])
    assert "secret internal detail" in frames
    # Frames never carry local variables: they may hold settings, keys, URLs.
    assert '"locals"' not in frames
    assert settings.operator_api_key not in frames


async def test_request_id_is_echoed_or_generated(capsys, client):
    response = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"

    generated = (await client.get("/health")).headers["X-Request-ID"]
    assert len(generated) == 32

    hostile = (await client.get("/health", headers={"X-Request-ID": 'x" y'})).headers[
        "X-Request-ID"
    ]
    assert hostile != 'x" y'

    access = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and '"request"' in line
    ]
    first = next(line for line in access if line["request_id"] == "abc-123")
    assert first["method"] == "GET"
    assert first["route"] == "/health"
    assert first["status"] == 200
    assert first["duration_ms"] >= 0
    assert any(line["request_id"] == generated for line in access)


async def test_metrics_use_route_templates(client, aiohttp_client):
    await client.get("/health")
    await client.get("/no/such/route")
    metrics = await aiohttp_client(metrics_app())
    text = await (await metrics.get("/metrics")).text()
    assert 'http_requests_total{method="GET",route="/health",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "/no/such/route" not in text
    assert 'db_pool_connections{state="max"} 10.0' in text
