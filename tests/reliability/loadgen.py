"""A bounded asynchronous load generator for the reliability tests (loopback only).

It sends requests from `concurrency` workers until `total` requests were sent
or `duration` seconds passed (whichever comes first, and at least one of the
two is required), or `stop` is set; it never runs unbounded. Every request is
recorded with its start and end time, status, content type and body, so a test
can ask what happened before, during and after a fault.

Also a command line tool:

    python -m tests.reliability.loadgen http://127.0.0.1:8080/health/ready \
        --duration 10 --concurrency 8 [--header 'Authorization: Bearer ...']
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
PROBLEM_JSON = "application/problem+json"


class NotLoopback(ValueError):
    pass


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK_HOSTS:
        raise NotLoopback(f"load is only ever sent to loopback, not to {host!r}")


@dataclass
class Sample:
    index: int
    started: float  # monotonic seconds
    finished: float
    status: int | None  # None: no HTTP response (connection refused/reset, client timeout)
    error: str | None = None
    content_type: str = ""
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class LoadReport:
    name: str
    samples: list[Sample]
    started: float
    finished: float

    @property
    def sent(self) -> int:
        return len(self.samples)

    @property
    def succeeded(self) -> int:
        return sum(1 for s in self.samples if s.ok)

    @property
    def failed(self) -> int:
        return self.sent - self.succeeded

    def statuses(self) -> dict[str, int]:
        counts = collections.Counter(
            str(s.status) if s.status is not None else f"no-response:{s.error}"
            for s in self.samples
        )
        return dict(sorted(counts.items()))

    def max_latency(self, *, where: Callable[[Sample], bool] = lambda s: True) -> float:
        return max((s.elapsed for s in self.samples if where(s)), default=0.0)

    def between(self, start: float, end: float) -> list[Sample]:
        """Samples that started in [start, end)."""
        return [s for s in self.samples if start <= s.started < end]

    def time_to_recover(self, since: float) -> float | None:
        """Seconds from `since` (the fault was removed) to the first success after
        which every request that started later also succeeded; None if never."""
        later = sorted((s for s in self.samples if s.started >= since), key=lambda s: s.started)
        recovered_at = None
        for sample in later:
            if sample.ok:
                if recovered_at is None:
                    recovered_at = sample.finished
            else:
                recovered_at = None
        return None if recovered_at is None else max(0.0, recovered_at - since)

    def summary(self, **extra: object) -> str:
        figures = {
            "sent": self.sent,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "seconds": round(self.finished - self.started, 2),
            "max_latency_s": round(self.max_latency(), 3),
            "statuses": self.statuses(),
            **extra,
        }
        return f"[{self.name}] " + " ".join(f"{k}={v}" for k, v in figures.items())


# Returns either one request (what session.get() returns, used as a context manager)
# or an awaitable "operation" of several requests that gives (status, content_type, body).
RequestFactory = Callable[[aiohttp.ClientSession, int], Awaitable[Any]]


def simple_request(
    method: str, url: str, *, headers: dict[str, str] | None = None, json_body: Any = None
) -> RequestFactory:
    require_loopback(url)

    def make(session: aiohttp.ClientSession, index: int):
        return session.request(method, url, headers=headers, json=json_body)

    return make


async def _record(
    session: aiohttp.ClientSession, make: RequestFactory, index: int, keep_body: bool
) -> Sample:
    started = time.monotonic()
    try:
        request = make(session, index)
        if not hasattr(request, "__aenter__"):
            # An operation of several requests: it returns (status, content_type, body).
            status, content_type, body = await request
            return Sample(index, started, time.monotonic(), status, None, content_type, body)
        async with request as response:
            raw = await response.read()
            body: Any = None
            if keep_body:
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw[:200].decode(errors="replace")
            return Sample(
                index,
                started,
                time.monotonic(),
                response.status,
                content_type=response.content_type,
                body=body,
                headers={k: v for k, v in response.headers.items() if k.lower() == "retry-after"},
            )
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        return Sample(index, started, time.monotonic(), None, error=type(exc).__name__)


async def run_load(
    make: RequestFactory,
    *,
    name: str = "load",
    total: int | None = None,
    duration: float | None = None,
    concurrency: int = 8,
    pause: float = 0.0,
    request_timeout: float = 30.0,
    stop: asyncio.Event | None = None,
    keep_body: bool = True,
    new_connection_per_request: bool = False,
    started_event: asyncio.Event | None = None,
) -> LoadReport:
    """Send requests until `total` were sent, `duration` passed or `stop` is set.

    `pause` is a sleep between two requests of one worker (steady, not maximal,
    load). `request_timeout` bounds every single request on the client side.
    """
    if total is None and duration is None:
        raise ValueError("a bounded load needs total= or duration=")
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    samples: list[Sample] = []
    counter = 0
    begin = time.monotonic()
    deadline = begin + duration if duration is not None else float("inf")
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=new_connection_per_request)
    timeout = aiohttp.ClientTimeout(total=request_timeout)

    def next_index() -> int | None:
        nonlocal counter
        if total is not None and counter >= total:
            return None
        if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
            return None
        counter += 1
        return counter - 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            while (index := next_index()) is not None:
                samples.append(await _record(session, make, index, keep_body))
                if started_event is not None:
                    started_event.set()
                if pause:
                    await asyncio.sleep(pause)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadReport(name, sorted(samples, key=lambda s: s.index), begin, time.monotonic())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--count", type=int, help="stop after this many requests")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--json", help="request body (JSON text)")
    args = parser.parse_args(argv)
    if args.count is None and args.duration is None:
        print("loadgen: give --count or --duration (the load must be bounded)", file=sys.stderr)
        return 2
    if args.duration is not None and not 0 < args.duration <= 600:
        print("loadgen: --duration must be in (0, 600] seconds", file=sys.stderr)
        return 2
    try:
        headers = dict(h.split(":", 1) for h in args.header)
        headers = {k.strip(): v.strip() for k, v in headers.items()}
        body = json.loads(args.json) if args.json else None
        make = simple_request(args.method, args.url, headers=headers, json_body=body)
    except ValueError as exc:
        print(f"loadgen: {exc}", file=sys.stderr)
        return 2
    report = asyncio.run(
        run_load(
            make,
            name="loadgen",
            total=args.count,
            duration=args.duration,
            concurrency=args.concurrency,
            pause=args.pause,
            keep_body=False,
        )
    )
    print(report.summary())
    return 0 if report.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
