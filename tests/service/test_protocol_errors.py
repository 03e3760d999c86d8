"""Requests that aiohttp's HTTP parser refuses, before any middleware runs,
are answered problem+json too: in process, under gunicorn and by the dev server."""

import asyncio
import json

import pytest

from gold_platform.app import create_app
from gold_platform.server import problem_runner
from tests.running_service import running_service, wait_until_ready

PROBLEM = "application/problem+json"
REFUSED = {
    "10 KB header": b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n",
    "20 KB URL": b"GET /v1/" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "garbage request line": b"\x16\x03\x01 not http\r\n\r\n",
}


async def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        answer = await reader.read()  # the connection is closed after a protocol error
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def assert_problem(case: str, status: int, headers: dict, body: bytes) -> None:
    assert status == 400, (case, status, body[:200])
    assert headers["content-type"] == PROBLEM, (case, headers)
    problem = json.loads(body)
    assert problem["type"].endswith("/bad-request") and problem["status"] == 400, problem
    assert b"aaaa" not in body, "the refused input is not echoed"


async def test_parser_errors_are_problems_in_process(settings, unused_tcp_port):
    from aiohttp import web

    runner = problem_runner(create_app(settings), settings)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
        for case, raw in REFUSED.items():
            assert_problem(case, *await exchange(unused_tcp_port, raw))
        status, _, body = await exchange(
            unused_tcp_port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert (status, json.loads(body)) == (200, {"status": "ok"})
    finally:
        await runner.cleanup()


@pytest.mark.slow
async def test_parser_errors_are_problems_under_gunicorn(database_url, tmp_path):
    env = {"DATABASE_URL": database_url, "DATABASE_POOL_SIZE": "2"}
    with running_service(env, tmp_path, workers=2) as service:
        wait_until_ready(service.base_url)
        port = int(service.base_url.rsplit(":", 1)[1])
        for case, raw in REFUSED.items():
            assert_problem(case, *await exchange(port, raw))
