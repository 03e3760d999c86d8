"""`python -m gold_devtools.devstack -- CMD`: the servers `make run` relies on."""

import json
import os
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from gold_devtools import postgres_binaries

pytestmark = pytest.mark.slow

PROBE = """
import json, os, psycopg2, redis
with psycopg2.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cur:
    cur.execute("SELECT current_database(), version()")
    db, version = cur.fetchone()
pong = redis.Redis.from_url(os.environ["REDIS_URL"]).ping()
print(json.dumps({"db": db, "version": version, "redis": pong,
                  "database_url": os.environ["DATABASE_URL"], "redis_url": os.environ["REDIS_URL"]}))
"""


def port_open(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((parts.hostname, parts.port)) == 0


def test_starts_real_servers_for_the_command_and_stops_them_after():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "gold_devtools.devstack", "--", sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["db"] == "gold_platform"
    assert seen["version"].startswith(f"PostgreSQL {postgres_binaries.selected_major()}.")
    assert seen["redis"] is True
    assert urlsplit(seen["database_url"]).hostname == "127.0.0.1"
    assert not port_open(seen["database_url"]), "PostgreSQL still listening after the command"
    assert not port_open(seen["redis_url"]), "Redis still listening after the command"


def test_passes_the_command_exit_code_and_respects_given_urls():
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://x@127.0.0.1:1/given",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gold_devtools.devstack",
            "--",
            sys.executable,
            "-c",
            "import os, sys; print(os.environ['DATABASE_URL']); sys.exit(7)",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 7
    assert result.stdout.strip() == "postgresql://x@127.0.0.1:1/given"


def test_an_unpinned_major_is_refused_in_one_line_naming_the_pinned_ones():
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "gold_devtools.devstack", "--", "true"],
        env={**env, "GOLD_POSTGRES_MAJOR": "9"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("devstack: GOLD_POSTGRES_MAJOR='9': pinned majors are 14, ")
