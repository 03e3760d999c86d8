#!/usr/bin/env python3
"""HTTP probes for the image smoke test (standard library only).

probe.py wait URL [--timeout S]   poll until URL answers 200; print seconds waited
probe.py get URL [--expect CODE]  one GET; print status, content type and size
probe.py free-port                print a free loopback TCP port
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import urllib.error
import urllib.request


def _get(
    url: str,
    timeout: float = 3.0,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def cmd_wait(args: argparse.Namespace) -> int:
    start = time.monotonic()
    last = "no answer"
    while time.monotonic() - start < args.timeout:
        try:
            status, _, body = _get(args.url, timeout=1.0)
            if status == 200:
                print(f"{time.monotonic() - start:.2f}")
                return 0
            last = f"HTTP {status}: {body[:200]!r}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    print(f"probe: {args.url} not 200 within {args.timeout:.0f}s (last: {last})", file=sys.stderr)
    return 1


def cmd_get(args: argparse.Namespace) -> int:
    headers: dict[str, str] = {}
    body: bytes | None = None
    if getattr(args, "bearer_env", None):
        token = os.environ.get(args.bearer_env, "")
        if not token:
            print(f"probe: environment variable {args.bearer_env} is empty", file=sys.stderr)
            return 2
        headers["Authorization"] = f"Bearer {token}"
    if getattr(args, "json", None) is not None:
        body = args.json.encode()
        headers["Content-Type"] = "application/json"
    try:
        status, ctype, body = _get(
            args.url, method=getattr(args, "method", "GET"), body=body, headers=headers
        )
    except (urllib.error.URLError, OSError) as exc:
        print(f"probe: {args.url}: {exc}", file=sys.stderr)
        return 1
    print(f"HTTP {status} {ctype or '-'} {len(body)} bytes")
    if args.show:
        print(body[: args.show].decode("utf-8", "replace"))
    if status != args.expect:
        print(f"probe: {args.url}: expected HTTP {args.expect}, got {status}", file=sys.stderr)
        return 1
    return 0


def cmd_free_port(args: argparse.Namespace) -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        print(sock.getsockname()[1])
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    wait = sub.add_parser("wait")
    wait.add_argument("url")
    wait.add_argument("--timeout", type=float, default=60.0)
    wait.set_defaults(func=cmd_wait)
    get = sub.add_parser("get")
    get.add_argument("url")
    get.add_argument("--expect", type=int, default=200)
    get.add_argument("--show", type=int, default=0, help="print the first N bytes of the body")
    get.set_defaults(func=cmd_get)
    request = sub.add_parser("request")
    request.add_argument("method", choices=["GET", "POST", "PUT", "PATCH", "DELETE"])
    request.add_argument("url")
    request.add_argument("--json", help="request body (JSON text)")
    request.add_argument("--bearer-env", help="environment variable holding the bearer token")
    request.add_argument("--expect", type=int, default=200)
    request.add_argument("--show", type=int, default=0, help="print the first N bytes of the body")
    request.set_defaults(func=cmd_get)
    free = sub.add_parser("free-port")
    free.set_defaults(func=cmd_free_port)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
