#!/usr/bin/env python3
"""The Gold Platform benchmark: the service against its ceilings and a peer stack.

Usage (what `make bench` runs):
    .venv/bin/python -m gold_devtools.devstack -- .tools/bench-venv/bin/python bench/run.py

Needs DATABASE_URL and REDIS_URL (devstack exports them), `wrk` and `pgbench`
on PATH, the project venv (.venv: the service, gunicorn, aiohttp) and the
bench venv (.tools/bench-venv: FastAPI peer, matplotlib, py-spy).

One run, in this order, each server alone on the machine while it is measured:
  1. the service (`gold-platform serve`, WEB_CONCURRENCY workers): time to
     /health/ready, seed through the real API, scenarios R, then W in
     --w-rounds rounds, each followed by W against the core (core_app.py:
     the service's trade path without its HTTP layer) and by the W ceiling
     (pgbench running the SQL statements of verify + confirm), the other
     servers idle, then P, RSS;
  2. R ceiling: a bare aiohttp app under the same gunicorn worker setup;
  3. W-ceiling-min: the trade in the fewest round trips (trade-minimal.sql);
  4. the peer (FastAPI + uvicorn + SQLAlchemy 2 async + asyncpg): R and W, RSS.
The ceiling's own throughput moves by a third between runs on a small
machine, so W and its ceiling are paired round by round: the W goal uses the
median of the rounds' ratios, and each row shows its median round.
Writes results.json, results.md and chart.png under bench/results/<stamp>/ and
prints the markdown table.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
PROJECT_VENV = ROOT / ".venv"
BENCH_VENV = ROOT / ".tools" / "bench-venv"

BUY_PRICE = "6000.00"
SELL_PRICE = "5900.00"
BUY_AMOUNT = "100.00"  # below the KYC threshold at this price


class BenchError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port(*taken: int) -> int:
    """A loopback port free now and not among `taken`: a port picked but not yet
    bound is free to the kernel, which may hand it out again at once."""
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in taken:
            return port
    raise BenchError(f"no free loopback port apart from {taken}")


# --------------------------------------------------------------------------- processes


@dataclass
class Server:
    """A server process started by the benchmark, in its own session so that
    stopping it (by its PID's group) also stops its workers."""

    name: str
    process: subprocess.Popen
    port: int
    started: float
    ready_seconds: float | None = None

    def children(self) -> list[int]:
        """PIDs whose parent is the server process (gunicorn/uvicorn workers)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.process.pid:
                found.append(int(entry.name))
        return sorted(found)

    def workers(self) -> list[int]:
        """Children that serve requests (uvicorn also spawns a resource tracker)."""
        pids = []
        for pid in self.children():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"resource_tracker" in cmdline or b"semaphore_tracker" in cmdline:
                continue
            pids.append(pid)
        return pids

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def cpu_seconds(pids: list[int]) -> tuple[float, float]:
    """(user, system) CPU seconds used so far by these processes."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11]) / tick
        system += int(fields[12]) / tick
    return user, system


def bare_gunicorn(app: str, port: int, workers: int) -> list[str]:
    """Command line serving one of bench/'s bare apps the way `gold-platform serve`
    serves the service: aiohttp's worker, a socket per worker, the app built once."""
    return [
        str(PROJECT_VENV / "bin" / "gunicorn"),
        "--chdir",
        str(BENCH),
        "-k",
        "aiohttp.GunicornWebWorker",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
        "--keep-alive",
        "75",
        "--reuse-port",
        "--preload",
        app,
    ]


def start_server(
    name: str, argv: list[str], env: dict[str, str], port: int, logdir: Path, ready_path: str
) -> Server:
    logfile = open(logdir / f"{name}.log", "wb")
    started = time.monotonic()
    process = subprocess.Popen(
        argv,
        env=env,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )
    server = Server(name, process, port, started)
    deadline = started + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{name} exited during start-up; see {logdir / (name + '.log')}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", ready_path)
            response = conn.getresponse()
            body = response.read()
            conn.close()
            if response.status == 200 and b'"ready"' in body:
                server.ready_seconds = round(time.monotonic() - started, 3)
                log(f"{name} ready after {server.ready_seconds:.3f} s (pid {process.pid})")
                return server
        except OSError:
            pass
        time.sleep(0.005)
    server.stop()
    raise BenchError(f"{name} was not ready in 60 s; see {logdir / (name + '.log')}")


# --------------------------------------------------------------------------- HTTP seeding


class Api:
    """A small keep-alive JSON client (one connection per thread)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self._local.conn = conn
        return conn

    def call(
        self, method: str, path: str, key: str, body: dict | None = None, expect=(200, 201)
    ) -> tuple[int, dict, bytes]:
        headers = {"Authorization": f"Bearer {key}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
            headers["Idempotency-Key"] = secrets.token_hex(12)
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        parsed = json.loads(raw) if raw else {}
        if response.status not in expect:
            raise BenchError(f"{method} {path} -> {response.status}: {raw[:300]!r}")
        return response.status, parsed, raw


@dataclass
class Seed:
    operator_key: str
    partner_keys: list[str] = field(default_factory=list)
    partner_ids: list[str] = field(default_factory=list)
    rate_id: str = ""
    rate_body: bytes = b""
    users: list[dict] = field(default_factory=list)  # {"id", "key", "partner_id", "external_id"}


def seed(api: Api, operator_key: str, partners: int, users: int, run_tag: str) -> Seed:
    s = Seed(operator_key)
    for i in range(partners):
        _, partner, _ = api.call(
            "POST", "/v1/admin/partners", operator_key, {"name": f"bench-{run_tag}-{i}"}
        )
        s.partner_keys.append(partner["api_key"])
        s.partner_ids.append(partner["id"])
    _, rate, _ = api.call(
        "POST", "/v1/admin/rates", operator_key, {"buy_price": BUY_PRICE, "sell_price": SELL_PRICE}
    )
    s.rate_id = rate["id"] if "id" in rate else rate["rate_id"]

    def make_user(n: int) -> dict:
        p = n % partners
        external_id = f"bench-{run_tag}-{n}"
        _, user, _ = api.call("POST", "/v1/users", s.partner_keys[p], {"external_id": external_id})
        # One settled buy each, so every portfolio and history has content.
        _, trade, _ = api.call(
            "POST",
            "/v1/transactions/buy",
            s.partner_keys[p],
            {"user_id": user["id"], "rate_id": s.rate_id, "amount": BUY_AMOUNT},
        )
        api.call("POST", f"/v1/transactions/{trade['id']}/confirm", s.partner_keys[p], {})
        return {
            "n": n,
            "id": user["id"],
            "key": s.partner_keys[p],
            "partner_id": s.partner_ids[p],
            "external_id": external_id,
        }

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        s.users = list(pool.map(make_user, range(users)))
    _, _, s.rate_body = api.call("GET", "/v1/rates/current", s.partner_keys[0])
    return s


def write_lua_data(path: Path, s: Seed) -> None:
    def q(value: str) -> str:
        return json.dumps(value)  # a JSON string literal is a valid Lua string here

    lines = ["return {", f"  rate_id = {q(s.rate_id)},", "  keys = {"]
    lines += [f"    {q(k)}," for k in s.partner_keys]
    lines += ["  },", "  users = {"]
    lines += [f"    {{id = {q(u['id'])}, key = {q(u['key'])}}}," for u in s.users]
    lines += ["  },", "  key_of_user = {"]
    lines += [f"    [{q(u['id'])}] = {q(u['key'])}," for u in s.users]
    lines += ["  },", "}"]
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- load


@dataclass
class Options:
    workers: int
    duration: int
    warmup: int
    r_connections: int
    w_connections: int
    p_connections: int
    wrk_threads: int
    w_rounds: int
    users: int
    partners: int
    profile: bool
    profile_gil: bool
    out: Path


def run_wrk(
    label: str,
    port: int,
    script: str,
    connections: int,
    opts: Options,
    data_file: Path,
    path: str = "/",
    profile_pids: list[int] | None = None,
    cpu_pids: list[int] | None = None,
) -> dict:
    env = dict(os.environ)
    env.update(
        BENCH_DATA=str(data_file),
        BENCH_LUA_DIR=str(BENCH / "wrk"),
        BENCH_BUY_AMOUNT=BUY_AMOUNT,
    )
    base = [
        "wrk",
        f"-t{opts.wrk_threads}",
        f"-c{connections}",
        "--timeout",
        "5s",
        "-s",
        str(BENCH / "wrk" / script),
        f"http://127.0.0.1:{port}{path}",
    ]
    if opts.warmup:
        subprocess.run(
            [*base[:1], f"-d{opts.warmup}s", *base[1:]],
            env=env,
            capture_output=True,
            check=True,
            timeout=opts.warmup + 30,
        )
    spies = []
    if profile_pids:
        # Per worker: folded stacks (ranked in the summary) and, from a second
        # sampler, py-spy's own flame graph (SVG) to keep with the results.
        for pid in profile_pids:
            for fmt, suffix in (("raw", "txt"), ("flamegraph", "svg")):
                out = opts.out / f"profile-{label}-{pid}.{suffix}"
                spy = subprocess.Popen(
                    [
                        str(BENCH_VENV / "bin" / "py-spy"),
                        "record",
                        "--pid",
                        str(pid),
                        "--duration",
                        str(opts.duration),
                        "--rate",
                        "250",
                        "--format",
                        fmt,
                        "--output",
                        str(out),
                        "--nonblocking",
                        *(["--gil"] if opts.profile_gil else []),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                spies.append((spy, out))
    cpu_before = cpu_seconds(cpu_pids or [])
    done = subprocess.run(
        [*base[:1], f"-d{opts.duration}s", *base[1:]],
        env=env,
        capture_output=True,
        text=True,
        timeout=opts.duration + 30,
    )
    cpu_after = cpu_seconds(cpu_pids or [])
    (opts.out / f"wrk-{label}.txt").write_text(done.stdout + done.stderr)
    for spy, _ in spies:
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
    if profile_pids:
        summarize_profile(label, [out for _, out in spies if out.suffix == ".txt"], opts.out)
    match = re.search(r"^BENCH_JSON (.*)$", done.stdout, re.M)
    if done.returncode != 0 or not match:
        raise BenchError(f"wrk {label} failed: {done.stdout[-500:]} {done.stderr[-500:]}")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    result = {
        "label": label,
        "connections": connections,
        "duration_s": round(seconds, 2),
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1),
        "p50_ms": round(raw["latency_us"]["p50"] / 1000, 2),
        "p90_ms": round(raw["latency_us"]["p90"] / 1000, 2),
        "p99_ms": round(raw["latency_us"]["p99"] / 1000, 2),
        "max_ms": round(raw["latency_us"]["max"] / 1000, 2),
        "errors": errors,
        "error_detail": raw["errors"],
    }
    if cpu_pids and raw["requests"]:
        user, system = (after - before for after, before in zip(cpu_after, cpu_before, strict=True))
        # CPU the server's workers spent per request: robust to a busy machine,
        # where requests/s and latency also measure everyone else's load.
        result["cpu_ms_per_req"] = round(1000 * (user + system) / raw["requests"], 3)
        result["cpu_user_sys_ms_per_req"] = [
            round(1000 * user / raw["requests"], 3),
            round(1000 * system / raw["requests"], 3),
        ]
    if "confirmed" in raw:
        result["verified"] = raw["verified"]
        result["trades"] = raw["confirmed"]
        result["trades_per_s"] = round(raw["confirmed"] / seconds, 1)
        result["failed"] = raw["failed"]
    if done.stderr.strip():
        result["stderr"] = done.stderr.strip()[-600:]
    log(
        f"{label}: {result['rps']:.0f} req/s"
        + (f", {result['trades_per_s']:.0f} trades/s" if "trades_per_s" in result else "")
        + f", p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, errors {errors}"
        + (f", worker CPU {result['cpu_ms_per_req']} ms/req" if "cpu_ms_per_req" in result else "")
    )
    return result


# --------------------------------------------------------------------------- profiles


def summarize_profile(label: str, files: list[Path], outdir: Path, top: int = 25) -> None:
    """py-spy raw output is folded stacks; rank frames by inclusive and self samples."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    by_file: collections.Counter[str] = collections.Counter()
    total = 0
    for path in files:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = stack.split(";")
            for frame in set(frames):
                inclusive[frame] += n
            own[frames[-1]] += n
            m = re.search(r"\(([^)]*?):\d+\)$", frames[-1]) or re.search(r"\((.*)\)$", frames[-1])
            by_file[_short_file(m.group(1)) if m else frames[-1]] += n
    if not total:
        return
    lines = [f"# {label}: {total} samples over {len(files)} worker(s)", "", "## self time by file"]
    lines += [f"{100 * n / total:6.1f}%  {f}" for f, n in by_file.most_common(top)]
    lines += ["", "## self time by frame"]
    lines += [f"{100 * n / total:6.1f}%  {f}" for f, n in own.most_common(top)]
    lines += ["", "## inclusive time by frame"]
    lines += [f"{100 * n / total:6.1f}%  {f}" for f, n in inclusive.most_common(top * 2)]
    (outdir / f"profile-{label}.summary.txt").write_text("\n".join(lines) + "\n")
    log(f"profile summary: {outdir / f'profile-{label}.summary.txt'}")


def _short_file(path: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


# --------------------------------------------------------------------------- pgbench


def confirmed_trades(psql: str, database_url: str) -> int:
    done = subprocess.run(
        [psql, "-At", database_url, "-c",
         "SELECT count(*) FROM transactions WHERE status = 'confirmed'"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(done.stdout.strip())


def run_pgbench(
    label: str, script: Path, database_url: str, clients: int, opts: Options, psql: str
) -> dict:
    # prepared=0: each client prepares the script's statements in its first transaction.
    base = ["pgbench", "-n", "-M", "simple", "-D", "prepared=0", "-c", str(clients),
            "-j", str(min(clients, 2))]  # fmt: skip
    if opts.warmup:
        subprocess.run(
            [*base, "-T", str(opts.warmup), "-f", str(script), database_url],
            capture_output=True,
            check=True,
            timeout=opts.warmup + 60,
        )
    confirmed_before = confirmed_trades(psql, database_url)
    done = subprocess.run(
        [*base, "-T", str(opts.duration), "-r", "-f", str(script), database_url],
        capture_output=True,
        text=True,
        timeout=opts.duration + 60,
    )
    (opts.out / f"pgbench-{label}.txt").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise BenchError(f"pgbench {label} failed: {done.stderr[-800:]}")
    tps = float(re.search(r"tps = ([\d.]+)", done.stdout).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", done.stdout).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    processed = int(
        re.search(r"number of transactions actually processed: (\d+)", done.stdout).group(1)
    )
    # A script whose confirm matched no row would still count transactions:
    # every pgbench transaction must have settled one trade.
    settled = confirmed_trades(psql, database_url) - confirmed_before
    if settled != processed:
        raise BenchError(f"pgbench {label}: {processed} transactions but {settled} trades settled")
    result = {
        "label": label,
        "connections": clients,
        "trades": processed,
        "trades_per_s": round(tps, 1),
        "rps": round(2 * tps, 1),  # one pgbench transaction = one trade = two HTTP requests
        "latency_avg_ms": latency,
        "errors": int(failed.group(1)) if failed else 0,
    }
    log(f"{label}: {tps:.0f} trades/s, avg latency {latency} ms")
    return result


# --------------------------------------------------------------------------- W ceiling SQL

PGBENCH_TEMPLATE = BENCH / "pgbench" / "trade.sql"
# The fewest round trips a trade can take with the same guarantees (its header says why).
PGBENCH_MINIMAL_TEMPLATE = BENCH / "pgbench" / "trade-minimal.sql"


def pgbench_script(
    outdir: Path, s: Seed, sample_trade: dict, template: Path = PGBENCH_TEMPLATE
) -> Path:
    """Fill a trade script's constants from this run's seed (rate, quote figures)."""
    values = {
        "NUSERS_MINUS_1": str(len(s.users) - 1),
        "RATE_ID": s.rate_id,
        "CURRENCY": sample_trade["currency"],
        "GRAMS": sample_trade["grams"],
        "PRICE_PER_GRAM": sample_trade["price_per_gram"],
        "TAX_RATE": sample_trade["tax_rate"],
        "PRE_TAX": sample_trade["pre_tax_amount"],
        "TAX": sample_trade["tax_amount"],
        "TOTAL": sample_trade["total_amount"],
        "NEG_GRAMS": "-" + sample_trade["grams"],
        "NEG_TOTAL": "-" + sample_trade["total_amount"],
        "BODY": json.dumps(sample_trade).replace("'", "''"),
        # The response as the service records it: bytes (and a jsonb copy of them).
        "BODY_HEX": json.dumps(sample_trade).encode().hex(),
    }
    text = template.read_text()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    if "{{" in text:
        raise BenchError("pgbench template has an unfilled placeholder")
    path = outdir / template.name
    path.write_text(text)
    return path


def create_user_map(psql: str, database_url: str, s: Seed) -> None:
    """bench_users(n) -> (partner, user): lets pgbench pick a random user by number
    inside its first statement (no extra round trip)."""
    rows = "\n".join(f"{u['n']}\t{u['partner_id']}\t{u['id']}" for u in s.users)
    subprocess.run(
        [
            psql,
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            database_url,
            "-c",
            "DROP TABLE IF EXISTS bench_users; CREATE TABLE bench_users"
            " (n int PRIMARY KEY, partner_id uuid NOT NULL, user_id uuid NOT NULL)",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [psql, "-q", "-v", "ON_ERROR_STOP=1", database_url, "-c", "\\copy bench_users FROM STDIN"],
        input=rows + "\n",
        text=True,
        check=True,
        capture_output=True,
    )


def drop_user_map(psql: str, database_url: str) -> None:
    subprocess.run(
        [psql, "-q", database_url, "-c", "DROP TABLE IF EXISTS bench_users"],
        check=False,
        capture_output=True,
    )


# --------------------------------------------------------------------------- tools


def pg_tool(name: str) -> str:
    """PostgreSQL client tools: the project's pinned ones (gold_devtools.postgres_binaries,
    of the newest major, so they work against devstack's server) when present, else the system's."""
    pinned = subprocess.run(
        [str(PROJECT_VENV / "bin" / "python"), "-m", "gold_devtools.postgres_binaries",
         "client-tool", name],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if pinned.returncode == 0:
        return pinned.stdout.strip()
    found = shutil.which(name)
    if found is None:
        raise BenchError(f"{name} not found (apt-get install postgresql-client)")
    return found


def require_tools() -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk not found (apt-get install wrk)")
    for path in (PROJECT_VENV / "bin" / "gold-platform", BENCH_VENV / "bin" / "uvicorn"):
        if not path.exists():
            raise BenchError(f"{path} missing: run `make bench` (it builds both venvs)")


# --------------------------------------------------------------------------- report


def ratio(a: float | None, b: float | None) -> float | None:
    if not a or not b:
        return None
    return round(a / b, 2)


def median_round(rounds: list[dict]) -> dict:
    """The round with the median trades/s (the lower one of an even count),
    standing for all: the trades/s of every round are kept in `rounds`."""
    ranked = sorted(rounds, key=lambda r: r["trades_per_s"])
    row = dict(ranked[(len(ranked) - 1) // 2])
    row["rounds"] = [r["trades_per_s"] for r in rounds]
    return row


def paired_ratio(service: dict, ceiling: dict) -> float | None:
    """The median of service ÷ ceiling over rounds run back to back."""
    pairs = zip(service.get("rounds", ()), ceiling.get("rounds", ()), strict=False)
    ratios = [a / b for a, b in pairs if a and b]
    return round(statistics.median(ratios), 2) if ratios else None


def build_report(results: dict) -> tuple[dict, str]:
    rows = results["rows"]
    by = {r["id"]: r for r in rows}

    def rate_of(row_id: str) -> float | None:
        row = by.get(row_id)
        if row is None:
            return None
        return row.get("trades_per_s") if row_id.startswith("W") else row.get("rps")

    for row in rows:
        scenario = row["id"].split("-")[0]
        if row["id"] in ("R-service", "P-service"):
            row["vs_ceiling"] = ratio(rate_of(row["id"]), rate_of(f"{scenario}-ceiling"))
        if row["id"] in ("W-service", "W-core"):
            # W's rows always carry their rounds (median_round).
            row["vs_ceiling"] = paired_ratio(row, by.get("W-ceiling", {}))
        if row["id"] == "W-service":
            row["vs_ceiling_min"] = ratio(rate_of(row["id"]), rate_of("W-ceiling-min"))
        if row["id"] in ("R-service", "W-service", "P-service"):
            row["vs_peer"] = ratio(rate_of(row["id"]), rate_of(f"{scenario}-peer"))
    svc = results["servers"].get("service", {})
    r, w, core = by.get("R-service", {}), by.get("W-service", {}), by.get("W-core", {})
    goals = [
        ("R ≥ 0.35 × R ceiling", r.get("vs_ceiling"), 0.35, ">="),
        ("R ≥ 2.5 × peer", r.get("vs_peer"), 2.5, ">="),
        ("W ≥ 0.6 × W ceiling, same SQL (trades/s)", w.get("vs_ceiling"), 0.6, ">="),
        ("W × W-ceiling-min (fewest round trips; reported)", w.get("vs_ceiling_min"), None, ">="),
        (
            "W-core × W ceiling (the trade path without the HTTP layer; reported)",
            core.get("vs_ceiling"),
            None,
            ">=",
        ),
        ("W ≥ 1.5 × peer (trades/s)", w.get("vs_peer"), 1.5, ">="),
        (f"R p99 ≤ 25 ms at {r.get('connections', '?')} connections", r.get("p99_ms"), 25, "<="),
        ("RSS per worker ≤ 80 MB (max)", max(svc.get("rss_mb_workers") or [0]) or None, 80, "<="),
        ("ready ≤ 1.0 s after start", svc.get("ready_seconds"), 1.0, "<="),
    ]
    results["goals"] = [
        {
            "goal": g,
            "measured": v,
            "target": t,
            "met": None if v is None or t is None else (v >= t if op == ">=" else v <= t),
        }
        for g, v, t, op in goals
    ]

    def fmt(v, suffix=""):
        if v is None:
            return "–"
        if isinstance(v, float):
            return f"{v:,.2f}{suffix}" if v < 100 else f"{v:,.0f}{suffix}"
        return f"{v:,}{suffix}"

    lines = [
        f"Gold Platform benchmark, {results['started']} — {results['machine']}",
        f"workers per server: {results['options']['workers']}; measured {results['options']['duration']} s"
        f" after {results['options']['warmup']} s warm-up; wrk threads {results['options']['wrk_threads']};"
        f" users {results['options']['users']}",
        "load average (1/5/15 min) before: {} / after: {}".format(
            " ".join(f"{x:.2f}" for x in results["loadavg_before"]),
            " ".join(f"{x:.2f}" for x in results.get("loadavg_after", ())),
        ),
        "",
        "| scenario | target | conns | req/s | trades/s | p50 ms | p99 ms | errors | × ceiling | × peer | worker CPU ms/req |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            "| {s} | {t} | {c} | {rps} | {tps} | {p50} | {p99} | {e} | {vc} | {vp} | {cpu} |".format(
                s=row["scenario"],
                t=row["target"],
                c=row["connections"],
                rps=fmt(row.get("rps")),
                tps=fmt(row.get("trades_per_s")),
                p50=fmt(row.get("p50_ms")),
                p99=fmt(row.get("p99_ms")),
                e=fmt(row.get("errors")),
                vc=fmt(row.get("vs_ceiling")),
                vp=fmt(row.get("vs_peer")),
                cpu=fmt(row.get("cpu_ms_per_req")),
            )
        )
    lines += [
        "",
        "| server | ready after start (s) | RSS per worker after the run (MB) |",
        "|---|---:|---|",
    ]
    for name, info in results["servers"].items():
        lines.append(
            f"| {name} | {fmt(info.get('ready_seconds'))} | "
            f"{', '.join(str(x) for x in info.get('rss_mb_workers', [])) or '–'} |"
        )
    w_ceiling = by.get("W-ceiling", {})
    if len(w.get("rounds", ())) > 1 and w_ceiling.get("rounds"):
        pairs = zip(w["rounds"], w_ceiling["rounds"], strict=False)
        lines += [
            "",
            "W rounds, service / same-SQL ceiling trades/s (× ceiling): "
            + "; ".join(f"{a:,.0f} / {b:,.0f} ({a / b:.2f})" for a, b in pairs if b),
        ]
        if core.get("rounds"):
            pairs = zip(core["rounds"], w_ceiling["rounds"], strict=False)
            lines.append(
                "W-core rounds, trade path without the HTTP layer / ceiling trades/s (× ceiling): "
                + "; ".join(f"{a:,.0f} / {b:,.0f} ({a / b:.2f})" for a, b in pairs if b)
            )
    lines += ["", "| goal | measured | met |", "|---|---:|:---:|"]
    for g in results["goals"]:
        met = "–" if g["met"] is None else ("yes" if g["met"] else "**no**")
        lines.append(f"| {g['goal']} | {fmt(g['measured'])} | {met} |")
    if results.get("scale"):
        import scale as scale_part

        lines += scale_part.report_lines(results["scale"])
    return results, "\n".join(lines) + "\n"


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = {r["id"]: r for r in results["rows"]}
    groups = [
        ("R: GET rate (req/s)", "rps", ["R-service", "R-ceiling", "R-peer"]),
        (
            "W: trades/s (verify+confirm)",
            "trades_per_s",
            ["W-service", "W-core", "W-ceiling", "W-ceiling-min", "W-peer"],
        ),
        (
            "worker CPU per request (ms)",
            "cpu_ms_per_req",
            ["R-service", "R-ceiling", "R-peer", "W-service", "W-core", "W-peer", "P-service"],
        ),
    ]
    colours = {"service": "#c9a227", "core": "#e67e22", "ceiling": "#7f8c8d", "peer": "#2e86c1"}
    with_scale = bool(results.get("scale", {}).get("steps"))
    fig, axes = plt.subplots(1, 5 if with_scale else 4, figsize=(19 if with_scale else 15, 4.2))
    if with_scale:
        import scale as scale_part

        scale_part.plot(axes[4], results["scale"])
    for ax, (title, metric, ids) in zip(axes, groups, strict=False):
        present = [i for i in ids if i in by and by[i].get(metric) is not None]
        values = [by[i][metric] for i in present]
        bars = ax.bar(present, values, color=[colours[i.split("-")[1]] for i in present])
        ax.bar_label(
            bars, labels=[f"{v:,.0f}" if v >= 10 else f"{v:.2f}" for v in values], fontsize=8
        )
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=7, rotation=30)
    ax = axes[3]
    ids = [
        i
        for i in ("R-service", "R-ceiling", "R-peer", "W-service", "W-peer", "P-service")
        if i in by
    ]
    p50 = [by[i].get("p50_ms") or 0 for i in ids]
    p99 = [by[i].get("p99_ms") or 0 for i in ids]
    x = range(len(ids))
    ax.bar([i - 0.2 for i in x], p50, width=0.4, label="p50", color="#95a5a6")
    ax.bar([i + 0.2 for i in x], p99, width=0.4, label="p99", color="#c0392b")
    ax.axhline(25, linestyle="--", linewidth=0.8, color="black")
    ax.set_xticks(list(x), ids, fontsize=7, rotation=30)
    ax.set_title("latency (ms); dashed = R p99 goal", fontsize=10)
    ax.legend(fontsize=8)
    fig.suptitle(
        f"Gold Platform benchmark — {results['started']} — {results['options']['workers']} workers"
        " — service: aiohttp+aiopg; ceiling: bare aiohttp / pgbench; peer: FastAPI+SQLAlchemy+asyncpg",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- main


# The service's scenarios: (wrk script, Options field of its connections, URL path).
SERVICE_SCENARIOS = {
    "R": ("read.lua", "r_connections", "/v1/rates/current"),
    "W": ("write.lua", "w_connections", "/"),
    "P": ("portfolio.lua", "p_connections", "/"),
}


def server_env(
    base: dict[str, str], port: int, opts: Options, operator_key: str, metrics: Path
) -> dict[str, str]:
    env = dict(base)
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        # The service's metrics listener: a free port of its own, not the default 9090.
        METRICS_PORT=str(free_port(port)),
        WEB_CONCURRENCY=str(opts.workers),
        OPERATOR_API_KEY=operator_key,
        # Load from a handful of keys must not trip the per-key limit (still counted).
        RATE_LIMIT_PER_MINUTE="1000000",
        # The seeded users are not KYC-verified and every W round (and its
        # ceiling) adds gold to them: however long the run, no buy may cross
        # the threshold and be refused (the check still runs).
        KYC_THRESHOLD_GRAMS="1000000",
        # The rate published at seed time stays valid for the whole run.
        RATE_VALIDITY_SECONDS="3600",
        TRADE_EXPIRY_SECONDS="3600",
        PROMETHEUS_MULTIPROC_DIR=str(metrics),
        PYTHONUNBUFFERED="1",
    )
    return env


def measure_rss(server: Server) -> list[float]:
    return [v for v in (rss_mb(pid) for pid in server.workers()) if v is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers", type=int, default=2, help="workers per server (default 2 = cores)"
    )
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per scenario")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per scenario")
    parser.add_argument("--r-connections", type=int, default=64)
    parser.add_argument("--w-connections", type=int, default=32)
    parser.add_argument("--p-connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--w-rounds",
        type=int,
        default=3,
        help="W, then its same-SQL ceiling, this many times in turn (the goal takes the median)",
    )
    parser.add_argument(
        "--users", type=int, default=300, help="users to seed (W and P pick at random)"
    )
    parser.add_argument("--partners", type=int, default=4)
    parser.add_argument(
        "--only",
        default="service,core,ceiling,peer,scale",
        help="comma list of: service,core,ceiling,peer,scale",
    )
    parser.add_argument(
        "--scale-sizes",
        default="10000,100000,1000000",
        help="scale part: settled trades to grow through (comma list, ascending)",
    )
    parser.add_argument(
        "--scale-requests",
        type=int,
        default=300,
        help="scale part: requests per measured series (also bounded to 30 s)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the service's workers during R, W, P (and the core's during W)",
    )
    parser.add_argument(
        "--profile-active",
        action="store_true",
        help="sample every running thread, not only the one holding the GIL (on a busy machine"
        " this counts time preempted inside syscalls as cost)",
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the service (experiments, e.g. LOG_LEVEL=WARNING); repeatable",
    )
    parser.add_argument("--out", type=Path, help="results folder (default bench/results/<stamp>)")
    args = parser.parse_args(argv)

    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            print(
                f"bench: {name} is not set (run through `make bench` or gold_devtools.devstack)",
                file=sys.stderr,
            )
            return 2
    if (
        args.workers < 1
        or args.duration < 1
        or args.warmup < 0
        or args.users < 2
        or args.w_rounds < 1
    ):
        print("bench: --workers/--duration/--users/--w-rounds must be positive", file=sys.stderr)
        return 2
    extra_env = {}
    for item in args.service_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            print(f"bench: --service-env wants NAME=VALUE, not {item!r}", file=sys.stderr)
            return 2
        extra_env[name] = value
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    if not parts <= {"service", "core", "ceiling", "peer", "scale"}:
        print(
            f"bench: --only takes service,core,ceiling,peer,scale, not {args.only!r}",
            file=sys.stderr,
        )
        return 2
    try:
        scale_sizes = sorted({int(x) for x in args.scale_sizes.split(",") if x.strip()})
    except ValueError:
        scale_sizes = []
    if "scale" in parts and (not scale_sizes or scale_sizes[0] < 100):
        print(f"bench: --scale-sizes wants sizes >= 100, not {args.scale_sizes!r}", file=sys.stderr)
        return 2
    try:
        require_tools()
        psql, pgbench = pg_tool("psql"), pg_tool("pgbench")
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    os.environ["PATH"] = f"{Path(pgbench).parent}:{os.environ['PATH']}"

    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = (args.out or BENCH / "results" / stamp).resolve()
    out.mkdir(parents=True, exist_ok=True)
    opts = Options(
        workers=args.workers,
        duration=args.duration,
        warmup=args.warmup,
        r_connections=args.r_connections,
        w_connections=args.w_connections,
        p_connections=args.p_connections,
        wrk_threads=args.wrk_threads,
        w_rounds=args.w_rounds,
        users=args.users,
        partners=args.partners,
        profile=args.profile,
        profile_gil=not args.profile_active,
        out=out,
    )
    database_url = os.environ["DATABASE_URL"]
    operator_key = "op_" + secrets.token_urlsafe(24)
    results: dict = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": f"{os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}",
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in opts.__dict__.items()},
        "rows": [],
        "servers": {},
        # The machine is shared: a high load average before or after the run
        # means requests/s and latencies also measure someone else's work.
        "loadavg_before": os.getloadavg(),
        "service_env": extra_env,
    }
    data_file = out / "data.lua"
    started: list[Server] = []
    t0 = time.monotonic()
    try:
        log("migrating the database (gold-platform migrate)")
        subprocess.run(
            [str(PROJECT_VENV / "bin" / "gold-platform"), "migrate"],
            env={**os.environ, "LOG_LEVEL": "WARNING"},
            check=True,
            capture_output=True,
        )
        # ---------------------------------------------------------------- service
        port = free_port()
        service = start_server(
            "service",
            [str(PROJECT_VENV / "bin" / "gold-platform"), "serve"],
            {**server_env(os.environ, port, opts, operator_key, out / "metrics"), **extra_env},
            port,
            out,
            "/health/ready",
        )
        started.append(service)
        log(f"seeding {args.partners} partners, a rate, {args.users} users with one trade each")
        s = seed(Api(port), operator_key, args.partners, args.users, stamp)
        write_lua_data(data_file, s)
        _, sample_trade, _ = Api(port).call(
            "POST",
            "/v1/transactions/buy",
            s.users[0]["key"],
            {"user_id": s.users[0]["id"], "rate_id": s.rate_id, "amount": BUY_AMOUNT},
        )
        (out / "rate-body.json").write_bytes(s.rate_body)
        results["seed"] = {
            "rate_id": s.rate_id,
            "rate_body_bytes": len(s.rate_body),
            "users": len(s.users),
        }
        info = {"ready_seconds": service.ready_seconds, "workers": opts.workers}
        spy = service.workers() if opts.profile else None

        def service_row(scenario: str, label: str, profile: list[int] | None) -> dict:
            script, conns, target_path = SERVICE_SCENARIOS[scenario]
            row = run_wrk(
                label,
                port,
                script,
                getattr(opts, conns),
                opts,
                data_file,
                target_path,
                profile,
                cpu_pids=service.workers(),
            )
            row.update(
                id=f"{scenario}-service", scenario=scenario, target="service (aiohttp+aiopg)"
            )
            return row

        if "service" in parts:
            results["rows"].append(service_row("R", "R-service", spy))
        core = None
        if "core" in parts:
            # The service's trade path without its HTTP layer; started now
            # (needs the seed) and idle but for its own W runs.
            keys_file = out / "partner-keys.json"
            keys_file.write_text(json.dumps(dict(zip(s.partner_keys, s.partner_ids, strict=True))))
            core_port = free_port()
            core_env = {
                **server_env(os.environ, core_port, opts, operator_key, out / "metrics-core"),
                **extra_env,
                "BENCH_PARTNER_KEYS_FILE": str(keys_file),
            }
            del core_env["PROMETHEUS_MULTIPROC_DIR"]  # it serves no metrics
            core = start_server(
                "core",
                bare_gunicorn("core_app:app", core_port, opts.workers),
                core_env,
                core_port,
                out,
                "/health/ready",
            )
            started.append(core)
        # W and its same-SQL ceiling in turn, the service idle while pgbench runs.
        w_ceiling_script = None
        if "ceiling" in parts:
            create_user_map(psql, database_url, s)
            w_ceiling_script = pgbench_script(out, s, sample_trade)
        w_rounds: dict[str, list[dict]] = {"service": [], "core": [], "ceiling": []}
        for n in range(1, opts.w_rounds + 1):
            if "service" in parts:
                # Profiled in the first round only: one set of flame graphs per scenario.
                w_rounds["service"].append(
                    service_row("W", f"W-service-{n}", spy if n == 1 else None)
                )
            if core is not None:
                w_rounds["core"].append(
                    run_wrk(
                        f"W-core-{n}",
                        core.port,
                        "write.lua",
                        opts.w_connections,
                        opts,
                        data_file,
                        "/",
                        core.workers() if opts.profile and n == 1 else None,
                        cpu_pids=core.workers(),
                    )
                )
            if w_ceiling_script is not None:
                w_rounds["ceiling"].append(
                    run_pgbench(
                        f"W-ceiling-{n}",
                        w_ceiling_script,
                        database_url,
                        opts.w_connections,
                        opts,
                        psql,
                    )
                )
        if w_rounds["service"]:
            results["rows"].append(median_round(w_rounds["service"]))
        if w_rounds["core"]:
            row = median_round(w_rounds["core"])
            row.update(id="W-core", scenario="W", target="service's trade path, no HTTP layer")
            results["rows"].append(row)
        if core is not None:
            results["servers"]["core (trade path, no HTTP layer)"] = {
                "ready_seconds": core.ready_seconds,
                "rss_mb_workers": measure_rss(core),
            }
            core.stop()
            started.remove(core)
        if w_rounds["ceiling"]:
            row = median_round(w_rounds["ceiling"])
            row.update(id="W-ceiling", scenario="W", target="ceiling: pgbench, same SQL")
            results["rows"].append(row)
        if "service" in parts:
            results["rows"].append(service_row("P", "P-service", spy))
        info["rss_mb_workers"] = measure_rss(service)
        info["rss_mb_master"] = rss_mb(service.process.pid)
        results["servers"]["service"] = info
        service.stop()
        started.remove(service)
        # ---------------------------------------------------------------- ceilings
        if "ceiling" in parts:
            port = free_port()
            ceiling = start_server(
                "ceiling",
                bare_gunicorn("ceiling_app:app", port, opts.workers),
                {**os.environ, "BENCH_CEILING_BODY_FILE": str(out / "rate-body.json")},
                port,
                out,
                "/health/ready",
            )
            started.append(ceiling)
            row = run_wrk(
                "R-ceiling",
                port,
                "read.lua",
                opts.r_connections,
                opts,
                data_file,
                "/v1/rates/current",
                cpu_pids=ceiling.workers(),
            )
            row.update(id="R-ceiling", scenario="R", target="ceiling: bare aiohttp, static body")
            results["rows"].append(row)
            results["servers"]["ceiling (bare aiohttp)"] = {
                "ready_seconds": ceiling.ready_seconds,
                "rss_mb_workers": measure_rss(ceiling),
            }
            ceiling.stop()
            started.remove(ceiling)
            script = pgbench_script(out, s, sample_trade, PGBENCH_MINIMAL_TEMPLATE)
            row = run_pgbench("W-ceiling-min", script, database_url, opts.w_connections, opts, psql)
            row.update(
                id="W-ceiling-min",
                scenario="W",
                target="ceiling: pgbench, fewest round trips (1 per request)",
            )
            results["rows"].append(row)
            drop_user_map(psql, database_url)
        # ---------------------------------------------------------------- peer
        if "peer" in parts:
            port = free_port()
            peer = start_server(
                "peer",
                [
                    str(BENCH_VENV / "bin" / "uvicorn"),
                    "--app-dir",
                    str(BENCH / "peer"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    str(opts.workers),
                    "--log-level",
                    "warning",
                    "app:app",
                ],
                server_env(os.environ, port, opts, operator_key, out / "metrics-peer"),
                port,
                out,
                "/health/ready",
            )
            started.append(peer)
            for scenario, script, conns, target_path in (
                ("R", "read.lua", opts.r_connections, "/v1/rates/current"),
                ("W", "write.lua", opts.w_connections, "/"),
            ):
                row = run_wrk(
                    f"{scenario}-peer",
                    port,
                    script,
                    conns,
                    opts,
                    data_file,
                    target_path,
                    cpu_pids=peer.workers(),
                )
                row.update(
                    id=f"{scenario}-peer",
                    scenario=scenario,
                    target="peer: FastAPI+uvicorn+SQLAlchemy+asyncpg",
                )
                results["rows"].append(row)
            results["servers"]["peer (FastAPI)"] = {
                "ready_seconds": peer.ready_seconds,
                "rss_mb_workers": measure_rss(peer),
            }
            peer.stop()
            started.remove(peer)
        # ---------------------------------------------------------------- scale
        if "scale" in parts:
            import scale as scale_part

            port = free_port()
            scaled = start_server(
                "service-scale",
                [str(PROJECT_VENV / "bin" / "gold-platform"), "serve"],
                {
                    **server_env(os.environ, port, opts, operator_key, out / "metrics-scale"),
                    # The cost of each read is what is measured, not the timeout.
                    "DATABASE_STATEMENT_TIMEOUT_MS": "120000",
                    **extra_env,
                },
                port,
                out,
                "/health/ready",
            )
            started.append(scaled)
            results["scale"] = scale_part.run_scale(
                scale_part.Sql(psql, database_url),
                Api(port),
                port,
                operator_key,
                scale_sizes,
                stamp,
                lambda: sum(cpu_seconds(scaled.workers())),
                requests=args.scale_requests,
            )
            results["scale"]["goals"] = scale_part.goals(results["scale"])
            scaled.stop()
            started.remove(scaled)
    except (
        BenchError,
        RuntimeError,
        subprocess.CalledProcessError,
        subprocess.TimeoutExpired,
    ) as exc:
        detail = getattr(exc, "stderr", None)
        print(
            f"bench: {exc}{(': ' + detail.decode(errors='replace')[-800:]) if isinstance(detail, bytes) else ''}",
            file=sys.stderr,
        )
        return 1
    finally:
        for server in started:
            server.stop()
    order = [
        "R-service",
        "R-ceiling",
        "R-peer",
        "W-service",
        "W-core",
        "W-ceiling",
        "W-ceiling-min",
        "W-peer",
        "P-service",
    ]
    results["rows"].sort(key=lambda r: order.index(r["id"]))
    results["total_seconds"] = round(time.monotonic() - t0, 1)
    results["loadavg_after"] = os.getloadavg()
    results, table = build_report(results)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "results.md").write_text(table)
    chart(results, out / "chart.png")
    latest = BENCH / "results" / "latest"
    if out.parent == latest.parent:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(out.name)
    print(table)
    print(
        f"results: {out} (results.json, results.md, chart.png); {results['total_seconds']} s in all"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
