"""Cost as the work grows: the service's reads at 10k, 100k and 1M settled trades.

Called from bench/run.py (part `scale`). The trades are seeded with set-based
SQL straight into the real tables, through every rule the database enforces
(migration 0004: balanced entries per transaction at commit, one entry per
transaction and account, an entry's unit is its account's, a transaction's
user is its partner's, user gold never negative); nothing is disabled. Each
batch is one database transaction: the trades (inserted confirmed, as a
settlement leaves them), their four entries each, and the user accounts'
stored balances and cost basis moved by exactly what the entries post.

The data grows incrementally (10k -> 100k -> 1M: each step adds the
difference), ANALYZE after each step, and at each size the running service is
measured over HTTP on 127.0.0.1:
  - P: a user's portfolio and the first page of their history (a random user,
    and the heavy user, whose history holds a tenth of all trades);
  - deep: the page of the heavy user's history at ~90% of it, through the
    cursor (built the way the service builds it: base64url of "seq:<n>");
  - reconciliation: GET /v1/admin/reconciliation with the operator key.
Every series is bounded by a count and a time budget.
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SCALE_USERS = 3000  # ordinary users; user 0 is the heavy one
HEAVY_SHARE = 10  # every 10th trade is the heavy user's
BATCH_TRADES = 100_000  # trades per seeding step
SEED_SESSIONS = 2  # database sessions seeding side by side (one per core), disjoint users
GRAMS = "0.0100"  # every seeded trade buys this much, quoted in grams
PAGE = 20  # the history page a partner asks for (the API's default)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] scale: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- SQL


class Sql:
    """psql, one call per unit of work (the bench venv has no PostgreSQL driver)."""

    def __init__(self, psql: str, database_url: str) -> None:
        self.psql, self.url = psql, database_url

    def run(self, script: str, timeout: float = 900) -> str:
        done = subprocess.run(
            [self.psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", self.url],
            input=script,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()[-800:]}")
        return done.stdout.strip()

    def value(self, query: str) -> str:
        return self.run(query).splitlines()[-1]


@dataclass
class Scale:
    partner_id: str
    partner_key: str
    rate_id: str
    heavy_user: str
    users: list[str] = field(default_factory=list)
    seeded: int = 0


def setup(sql: Sql, api, operator_key: str, tag: str) -> Scale:
    """A partner and a rate through the API; the users and their accounts in SQL."""
    _, partner, _ = api.call("POST", "/v1/admin/partners", operator_key, {"name": f"scale-{tag}"})
    _, rate, _ = api.call(
        "POST", "/v1/admin/rates", operator_key, {"buy_price": "6000.00", "sell_price": "5900.00"}
    )
    rate_id = rate.get("id") or rate["rate_id"]
    # One user through the API (so its currency is the service's), the rest alike in SQL.
    _, first, _ = api.call(
        "POST", "/v1/users", partner["api_key"], {"external_id": f"scale-{tag}-0"}
    )
    # A quote from the service itself: the seeded trades carry its exact figures.
    _, quote, _ = api.call(
        "POST",
        "/v1/transactions/buy",
        partner["api_key"],
        {"user_id": first["id"], "rate_id": rate_id, "grams": GRAMS},
    )
    api.call("POST", f"/v1/transactions/{quote['id']}/cancel", partner["api_key"], {})
    sql.run(
        f"""
        BEGIN;
        UPDATE users SET kyc_status = 'verified', kyc_verified_at = now()
         WHERE id = '{first["id"]}';
        INSERT INTO users (partner_id, external_id, kyc_status, kyc_verified_at)
        SELECT '{partner["id"]}', 'scale-{tag}-' || i, 'verified', now()
          FROM generate_series(1, {SCALE_USERS}) i;
        INSERT INTO accounts (kind, user_id, unit)
        SELECT k.kind, u.id, CASE k.kind WHEN 'user_gold' THEN 'XAU_G' ELSE '{quote["currency"]}' END
          FROM users u, (VALUES ('user_gold'), ('user_money')) k (kind)
         WHERE u.partner_id = '{partner["id"]}' AND u.id <> '{first["id"]}';
        DROP TABLE IF EXISTS bench_scale_users;
        -- n = 0 is the heavy user; 1..SCALE_USERS the others.
        CREATE TABLE bench_scale_users AS
        SELECT (row_number() OVER (ORDER BY u.id = '{first["id"]}' DESC, u.external_id) - 1)::int
                   AS n,
               u.id AS user_id, g.id AS gold, m.id AS money
          FROM users u
          JOIN accounts g ON g.user_id = u.id AND g.kind = 'user_gold'
          JOIN accounts m ON m.user_id = u.id AND m.kind = 'user_money'
         WHERE u.partner_id = '{partner["id"]}';
        ALTER TABLE bench_scale_users ADD PRIMARY KEY (n);
        CREATE UNIQUE INDEX ON bench_scale_users (user_id);
        DROP TABLE IF EXISTS bench_scale_trade;
        CREATE TABLE bench_scale_trade AS
        SELECT '{partner["id"]}'::uuid AS partner_id, '{rate_id}'::uuid AS rate_id,
               '{quote["currency"]}'::char(3) AS currency,
               {quote["grams"]}::numeric AS grams, {quote["price_per_gram"]}::numeric AS ppg,
               {quote["tax_rate"]}::numeric AS tax_rate, {quote["pre_tax_amount"]}::numeric AS pre,
               {quote["tax_amount"]}::numeric AS tax, {quote["total_amount"]}::numeric AS total,
               (SELECT id FROM accounts WHERE kind = 'vault_gold') AS vault,
               (SELECT id FROM accounts WHERE kind = 'treasury_money'
                  AND unit = '{quote["currency"]}') AS treasury;
        COMMIT;
        """
    )
    users = sql.run("SELECT user_id FROM bench_scale_users ORDER BY n").splitlines()
    return Scale(partner["id"], partner["api_key"], rate_id, users[0], users)


def seed_batch(sql: Sql, lo: int, hi: int, part: int = 0, parts: int = 1) -> None:
    """Trades lo..hi-1 of users with number % parts = part, settled, in one
    database transaction: the balance check of every transaction's entries (a
    deferred constraint trigger) runs at its commit. Parts touch disjoint
    accounts (platform accounts store no balance), so they run side by side."""
    others = SCALE_USERS
    sql.run(
        f"""
        BEGIN;
        CREATE TEMP TABLE batch ON COMMIT DROP AS
        SELECT n, who FROM (
            SELECT n, CASE WHEN n % {HEAVY_SHARE} = 0 THEN 0
                           ELSE 1 + ((n * 7919) % {others}) END AS who
              FROM generate_series({lo}::bigint, {hi - 1}) n) b
         WHERE who % {parts} = {part};
        WITH t AS (
            INSERT INTO transactions (partner_id, user_id, rate_id, side, quoted_in, status,
                currency, grams, price_per_gram, tax_rate, pre_tax_amount, tax_amount,
                total_amount, created_at, expires_at, settled_at)
            SELECT p.partner_id, u.user_id, p.rate_id, 'buy', 'grams', 'confirmed', p.currency,
                   p.grams, p.ppg, p.tax_rate, p.pre, p.tax, p.total,
                   now() - make_interval(secs => 2000000 - b.n * 0.5),
                   now() - make_interval(secs => 2000000 - b.n * 0.5) + interval '15 min',
                   now() - make_interval(secs => 2000000 - b.n * 0.5) + interval '10 s'
              FROM batch b JOIN bench_scale_users u ON u.n = b.who, bench_scale_trade p
             ORDER BY b.n
            RETURNING id, user_id
        )
        INSERT INTO ledger_entries (transaction_id, account_id, unit, amount)
        SELECT t.id, e.account_id, e.unit, e.amount
          FROM t JOIN bench_scale_users u ON u.user_id = t.user_id, bench_scale_trade p,
               LATERAL (VALUES (u.gold, 'XAU_G', p.grams), (p.vault, 'XAU_G', -p.grams),
                               (u.money, p.currency::text, -p.total),
                               (p.treasury, p.currency::text, p.total))
                   AS e (account_id, unit, amount);
        -- The stored balances move by exactly what the entries post (average
        -- cost: a buy adds what was paid to the cost basis).
        WITH c AS (SELECT who, count(*) AS k FROM batch GROUP BY who)
        UPDATE accounts a
           SET balance = a.balance + CASE WHEN a.id = u.gold THEN c.k * p.grams
                                          ELSE -c.k * p.total END,
               cost_basis = a.cost_basis + CASE WHEN a.id = u.gold THEN c.k * p.total ELSE 0 END
          FROM c JOIN bench_scale_users u ON u.n = c.who, bench_scale_trade p
         WHERE a.id IN (u.gold, u.money);
        COMMIT;
        """
    )


def grow(sql: Sql, scale: Scale, size: int) -> dict:
    """Adds trades up to `size` (the difference), then ANALYZE."""
    t0 = time.monotonic()
    start = scale.seeded
    while scale.seeded < size:
        hi = min(size, scale.seeded + BATCH_TRADES)
        with concurrent.futures.ThreadPoolExecutor(SEED_SESSIONS) as pool:
            for done in [
                pool.submit(seed_batch, sql, scale.seeded, hi, part, SEED_SESSIONS)
                for part in range(SEED_SESSIONS)
            ]:
                done.result()
        scale.seeded = hi
        log(f"seeded {hi:,} trades ({time.monotonic() - t0:.1f} s for this step)")
    seed_s = time.monotonic() - t0
    t1 = time.monotonic()
    sql.run("ANALYZE transactions; ANALYZE ledger_entries; ANALYZE accounts; ANALYZE users;")
    step = {
        "added": size - start,
        "seed_s": round(seed_s, 1),
        "trades_per_s": round((size - start) / seed_s) if seed_s else None,
        "analyze_s": round(time.monotonic() - t1, 1),
    }
    step.update(catch_up_checkpoint(sql))
    return step


def catch_up_checkpoint(sql: Sql, budget_s: float = 600, steps: int = 60) -> dict:
    """With incremental reconciliation (migration 0006), the service's workers
    advance the checkpoint by 200,000 entries every 5 s; a bulk seed is a
    backlog they would take minutes over. The bench works it off at once, in
    steps of 1M entries through the same function, and reports the time."""
    if sql.value("SELECT to_regclass('ledger_checkpoint') IS NOT NULL") != "t":
        return {}
    t0, deadline = time.monotonic(), time.monotonic() + budget_s
    behind = None
    for _ in range(steps * 10):
        # 0 added: a worker holds the row (its own step), or a transaction older
        # than the candidate is still open; wait a little and try again.
        if sql.value("SELECT ledger_checkpoint_advance(1000000)") == "0":
            time.sleep(0.5)
        behind = int(
            sql.value(
                "SELECT (SELECT coalesce(max(id), 0) FROM ledger_entries) - through_entry"
                " FROM ledger_checkpoint"
            )
        )
        if behind == 0 or time.monotonic() > deadline:
            break
    catch_up = round(time.monotonic() - t0, 1)
    log(f"checkpoint caught up in {catch_up} s ({behind} entries behind)")
    return {"checkpoint_catch_up_s": catch_up, "checkpoint_entries_behind": behind}


# --------------------------------------------------------------------------- HTTP


class Client:
    """One keep-alive connection; each call returns (status, body, milliseconds)."""

    def __init__(self, port: int, key: str, timeout: float = 120) -> None:
        self.port, self.key, self.timeout = port, key, timeout
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> tuple[int, bytes, float]:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                t0 = time.perf_counter()
                self.conn.request("GET", path, headers={"Authorization": f"Bearer {self.key}"})
                response = self.conn.getresponse()
                body = response.read()
                return response.status, body, (time.perf_counter() - t0) * 1000
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def series(
    name: str,
    calls: Callable[[int], tuple[int, bytes, float]],
    count: int,
    budget_s: float,
    cpu: Callable[[], float],
    control: Callable[[], tuple[int, bytes, float]] | None = None,
) -> dict:
    """Up to `count` calls within `budget_s` seconds, one at a time. With a
    `control` (a request whose cost does not depend on the data), one follows
    each call: its median, taken under the same load, tells the machine's
    share of a change between sizes from the data's."""
    times, controls, errors = [], [], 0
    cpu_used, deadline = 0.0, time.monotonic() + budget_s
    for i in range(count):
        if time.monotonic() > deadline:
            break
        cpu0 = cpu()
        status, body, ms = calls(i)
        cpu_used += cpu() - cpu0
        if status != 200:
            errors += 1
            if errors <= 3:
                log(f"{name}: HTTP {status}: {body[:200]!r}")
        times.append(ms)
        if control is not None:
            controls.append(control()[2])
    out = {
        "requests": len(times),
        "errors": errors,
        "p50_ms": percentile(times, 0.50),
        "p99_ms": percentile(times, 0.99),
        "max_ms": round(max(times), 2) if times else None,
        "cpu_ms_per_req": round(1000 * cpu_used / len(times), 3) if times else None,
    }
    if controls:
        out["control_p50_ms"] = percentile(controls, 0.50)
    log(
        f"{name}: {out['requests']} requests, p50 {out['p50_ms']} ms, p99 {out['p99_ms']} ms,"
        f" max {out['max_ms']} ms, worker CPU {out['cpu_ms_per_req']} ms/req, errors {errors}"
        + (f"; control p50 {out['control_p50_ms']} ms" if controls else "")
    )
    return out


def cursor_for(seq: int) -> str:
    """The service's cursor format (http/users.py): base64url("seq:<n>"), unpadded."""
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def measure(
    sql: Sql,
    scale: Scale,
    port: int,
    operator_key: str,
    size: int,
    requests: int,
    budget_s: float,
    cpu: Callable[[], float],
) -> dict:
    rng = random.Random(size)
    partner = Client(port, scale.partner_key)
    operator = Client(port, operator_key, timeout=180)
    heavy = scale.heavy_user
    heavy_trades = int(sql.value(f"SELECT count(*) FROM transactions WHERE user_id = '{heavy}'"))
    deep_offset = int(heavy_trades * 0.9)
    # The seq just above the deep page: the cursor a partner holds after paging there.
    deep_seq = int(
        sql.value(
            f"SELECT seq FROM transactions WHERE user_id = '{heavy}'"
            f" ORDER BY seq DESC OFFSET {deep_offset - 1} LIMIT 1"
        )
    )
    deep_path = f"/v1/users/{heavy}/transactions?limit={PAGE}&cursor={cursor_for(deep_seq)}"
    status, body, _ = partner.get(deep_path)
    page = json.loads(body)
    expected = min(PAGE, heavy_trades - deep_offset)  # a small history ends within the page
    if status != 200 or len(page["items"]) != expected or page["items"][0]["user_id"] != heavy:
        raise RuntimeError(f"deep page: HTTP {status}: {body[:300]!r}")

    def p_call(user_of: Callable[[int], str]) -> Callable[[int], tuple[int, bytes, float]]:
        def call(i: int) -> tuple[int, bytes, float]:
            user = user_of(i)
            if i % 2 == 0:
                return partner.get(f"/v1/users/{user}/portfolio")
            return partner.get(f"/v1/users/{user}/transactions?limit={PAGE}")

        return call

    randoms = scale.users[1:]
    pair: list[str] = []

    def random_user(i: int) -> str:
        if i % 2 == 0:  # the same user for a portfolio and its history page
            pair[:] = [rng.choice(randoms)]
        return pair[0]

    def control() -> tuple[int, bytes, float]:
        return partner.get("/v1/rates/current")  # auth, cache, JSON: no history in it

    out = {"size": size, "heavy_user_trades": heavy_trades, "deep_offset": deep_offset}
    out["P_random"] = series(
        f"{size:,} P random user", p_call(random_user), requests, budget_s, cpu, control
    )
    out["P_heavy"] = series(
        f"{size:,} P heavy user", p_call(lambda i: heavy), requests, budget_s, cpu, control
    )
    both = out["P_random"], out["P_heavy"]
    out["P"] = {
        # The worse of the two users, per percentile: the figure the target is judged by.
        "p50_ms": max(s["p50_ms"] for s in both),
        "p99_ms": max(s["p99_ms"] for s in both),
        # The same load's data-independent request (GET /v1/rates/current).
        "control_p50_ms": min(s["control_p50_ms"] for s in both),
        "cpu_ms_per_req": max(s["cpu_ms_per_req"] for s in both),
    }
    out["deep"] = series(
        f"{size:,} deep page (offset {deep_offset:,})",
        lambda i: partner.get(deep_path),
        requests,
        budget_s,
        cpu,
        control,
    )
    out["reconciliation"] = series(
        f"{size:,} reconciliation",
        lambda i: operator.get("/v1/admin/reconciliation"),
        5,
        max(budget_s, 60),
        cpu,
    )
    status, body, _ = operator.get("/v1/admin/reconciliation")
    report = json.loads(body) if status == 200 else {}
    out["reconciliation"]["balanced"] = report.get("balanced")
    out["reconciliation"]["checks"] = report.get("checks")
    if report.get("balanced") is not True:
        log(f"reconciliation at {size:,} is NOT balanced: HTTP {status} {body[:400]!r}")
    partner.close()
    operator.close()
    return out


def run_scale(
    sql: Sql,
    api,
    port: int,
    operator_key: str,
    sizes: list[int],
    tag: str,
    cpu: Callable[[], float],
    requests: int = 300,
    budget_s: float = 30,
) -> dict:
    results: dict = {"sizes": sizes, "steps": [], "loadavg_before": os.getloadavg()}
    scale = setup(sql, api, operator_key, tag)
    existing = int(sql.value("SELECT count(*) FROM transactions WHERE status = 'confirmed'"))
    results["other_confirmed_trades"] = existing
    for size in sorted(sizes):
        step = grow(sql, scale, size)
        log(
            f"{size:,} settled trades: +{step['added']:,} in {step['seed_s']} s"
            f" ({step['trades_per_s']} trades/s), ANALYZE {step['analyze_s']} s;"
            f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        step.update(measure(sql, scale, port, operator_key, size, requests, budget_s, cpu))
        step["loadavg"] = os.getloadavg()
        step["ledger_entries"] = int(sql.value("SELECT count(*) FROM ledger_entries"))
        results["steps"].append(step)
    sql.run("DROP TABLE IF EXISTS bench_scale_users; DROP TABLE IF EXISTS bench_scale_trade;")
    results["loadavg_after"] = os.getloadavg()
    return results


# --------------------------------------------------------------------------- report


FLAT = 1.5  # P and history: largest size within 1.5x of the smallest
RECONCILIATION_MS = 1000  # at the largest size


def goals(scale: dict) -> list[dict]:
    steps = scale.get("steps") or []
    if len(steps) < 2:
        return []
    first, last = steps[0], steps[-1]

    def growth(path: tuple[str, str]) -> float | None:
        a, b = first[path[0]][path[1]], last[path[0]][path[1]]
        return round(b / a, 2) if a and b else None

    size = f"{first['size']:,} → {last['size']:,}"
    found = []
    for label, path in (
        ("P p50", ("P", "p50_ms")),
        ("P p99", ("P", "p99_ms")),
        ("deep history page p50", ("deep", "p50_ms")),
    ):
        g = growth(path)
        found.append(
            {
                "goal": f"{label} flat ({size}) ≤ {FLAT}×",
                "measured": g,
                "target": FLAT,
                "met": None if g is None else g <= FLAT,
            }
        )
    for label, series_name in (("P p50", "P"), ("deep history page p50", "deep")):
        a, b = first[series_name], last[series_name]
        if a.get("control_p50_ms") and b.get("control_p50_ms"):
            g = round((b["p50_ms"] / b["control_p50_ms"]) / (a["p50_ms"] / a["control_p50_ms"]), 2)
            found.append(
                {
                    "goal": f"{label} ÷ control p50 (same load) flat ({size}) ≤ {FLAT}×",
                    "measured": g,
                    "target": FLAT,
                    "met": g <= FLAT,
                }
            )
    for label, series_name in (("P", "P"), ("deep history page", "deep")):
        g = growth((series_name, "cpu_ms_per_req"))
        if g is not None:
            found.append(
                {
                    "goal": f"{label} worker CPU per request flat ({size}) ≤ {FLAT}×",
                    "measured": g,
                    "target": FLAT,
                    "met": g <= FLAT,
                }
            )
    rec = last["reconciliation"]["max_ms"]
    found.append(
        {
            "goal": f"reconciliation at {last['size']:,} trades ≤ {RECONCILIATION_MS} ms (max)",
            "measured": rec,
            "target": RECONCILIATION_MS,
            "met": None
            if rec is None
            else rec <= RECONCILIATION_MS and not last["reconciliation"]["errors"],
        }
    )
    return found


def report_lines(scale: dict) -> list[str]:
    def f(v) -> str:
        if v is None:
            return "–"
        return f"{v:,.2f}" if v < 100 else f"{v:,.0f}"

    lines = [
        "",
        "Cost as the work grows (settled trades seeded in SQL; one request at a time;"
        f" heavy user = 1/{HEAVY_SHARE} of trades; deep page at 90% of its history)",
        "",
        "| settled trades | entries | seed s | checkpoint catch-up s | P p50 ms | P p99 ms | P random p50/p99 | "
        "P heavy p50/p99 | P CPU ms/req | control p50 ms | deep page p50/p99 ms |"
        " reconciliation p50/max ms | "
        "balanced | load avg |",
        "|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---|---|:---:|---|",
    ]
    for s in scale.get("steps", []):
        lines.append(
            f"| {s['size']:,} | {s['ledger_entries']:,} | {f(s['seed_s'])}"
            f" | {f(s.get('checkpoint_catch_up_s'))} | {f(s['P']['p50_ms'])}"
            f" | {f(s['P']['p99_ms'])}"
            f" | {f(s['P_random']['p50_ms'])} / {f(s['P_random']['p99_ms'])}"
            f" | {f(s['P_heavy']['p50_ms'])} / {f(s['P_heavy']['p99_ms'])}"
            f" | {f(s['P'].get('cpu_ms_per_req'))} | {f(s['P'].get('control_p50_ms'))}"
            f" | {f(s['deep']['p50_ms'])} / {f(s['deep']['p99_ms'])}"
            f" | {f(s['reconciliation']['p50_ms'])} / {f(s['reconciliation']['max_ms'])}"
            f" | {s['reconciliation'].get('balanced')}"
            f" | {' '.join(f'{x:.2f}' for x in s['loadavg'])} |"
        )
    lines += ["", "| scale goal | measured | met |", "|---|---:|:---:|"]
    for g in scale.get("goals", []):
        met = "–" if g["met"] is None else ("yes" if g["met"] else "**no**")
        lines.append(f"| {g['goal']} | {f(g['measured'])} | {met} |")
    return lines


def plot(ax, scale: dict) -> None:
    steps = scale.get("steps") or []
    if not steps:
        ax.set_visible(False)
        return
    x = [s["size"] for s in steps]
    for label, values, style in (
        ("P p50", [s["P"]["p50_ms"] for s in steps], "o-"),
        ("P p99", [s["P"]["p99_ms"] for s in steps], "o--"),
        ("deep page p50", [s["deep"]["p50_ms"] for s in steps], "s-"),
        ("reconciliation p50", [s["reconciliation"]["p50_ms"] for s in steps], "^-"),
        ("control p50 (GET rate)", [s["P"].get("control_p50_ms") for s in steps], "x:"),
    ):
        if all(v is not None for v in values):
            ax.plot(x, values, style, label=label)
    ax.axhline(RECONCILIATION_MS, linestyle=":", linewidth=0.8, color="black")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("settled trades", fontsize=8)
    ax.set_ylabel("ms", fontsize=8)
    ax.set_title("cost as the work grows (dotted = 1 s)", fontsize=10)
    ax.legend(fontsize=7)
