"""The peer: the R and W endpoints of the service in the stack teams usually
pick for this, FastAPI + uvicorn + SQLAlchemy 2 (async) + asyncpg + redis-py.

Benchmark-only, not shipped. It does the same work per request as the service
so that the comparison is about the stack, not about shortcuts:
- the same database and schema (the project's migrations), the same SQL
  statements in the same transactions, the same Redis cache key and TTL;
- auth: `gp_<key_id>_<secret>` looked up by key_id (cached in process for 30 s),
  SHA-256 of the secret compared in constant time; the operator key too;
- a fixed-window rate limit per key in Redis (INCR + EXPIRE in one pipeline);
- Idempotency-Key claimed, and the response recorded, in the trade's transaction;
- pool of DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW connections per worker.
Only buy by amount or grams is implemented (what scenario W drives).
Uses SQLAlchemy Core `text()` rather than ORM models: less overhead, so the
peer's figures are if anything flattering to it.

Run: uvicorn --workers N --app-dir bench/peer app:app (run.py does this).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from contextlib import asynccontextmanager
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Annotated

import redis.asyncio as redis
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

DATABASE_URL = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+asyncpg://", 1)
REDIS_URL = os.environ["REDIS_URL"]
OPERATOR_KEY = os.environ.get("OPERATOR_API_KEY", "")
CURRENCY = os.environ.get("CURRENCY", "INR")
RATE_LIMIT = int(os.environ.get("RATE_LIMIT_PER_MINUTE", "600"))
POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "20"))
MAX_OVERFLOW = int(os.environ.get("DATABASE_MAX_OVERFLOW", "10"))
TRADE_EXPIRY_SECONDS = int(os.environ.get("TRADE_EXPIRY_SECONDS", "600"))
KYC_THRESHOLD = Decimal(os.environ.get("KYC_THRESHOLD_GRAMS", "10"))
MIN_BUY = Decimal(os.environ.get("MIN_BUY_AMOUNT", "10.00"))
CACHE_TTL_SECONDS = 10
KEY_CACHE_SECONDS = 30.0
CENT, MILLI_GRAM = Decimal("0.01"), Decimal("0.0001")

engine = create_async_engine(
    DATABASE_URL,
    pool_size=POOL_SIZE,
    max_overflow=MAX_OVERFLOW,
    connect_args={
        "server_settings": {
            "application_name": "bench-peer",
            "statement_timeout": "5000",
            "lock_timeout": "2000",
        }
    },
)
cache = redis.Redis(
    connection_pool=redis.BlockingConnectionPool.from_url(
        REDIS_URL, max_connections=(POOL_SIZE + MAX_OVERFLOW) * 2, timeout=0.25
    )
)


@asynccontextmanager
async def lifespan(app: FastAPI):
    # Open the pool ahead of traffic, as the service's warm_up does.
    conns = [await engine.connect() for _ in range(POOL_SIZE)]
    for conn in conns:
        await conn.close()
    yield
    await engine.dispose()
    await cache.aclose()


app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


def problem(status: int, slug: str, detail: str) -> HTTPException:
    return HTTPException(
        status, detail={"type": f"https://gold.example/problems/{slug}", "detail": detail}
    )


@app.exception_handler(HTTPException)
async def _problem_response(request: Request, exc: HTTPException) -> Response:
    body = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}
    return JSONResponse(
        {"status": exc.status_code, **body},
        status_code=exc.status_code,
        media_type="application/problem+json",
    )


# ------------------------------------------------------------------ auth + rate limit

_keys: dict[str, tuple[float, dict | None]] = {}


async def principal(authorization: Annotated[str, Header()] = "") -> tuple[str, str | None]:
    """(key_id, partner_id); partner_id None for the operator. Counts the rate limit."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise problem(401, "unauthorized", "Send an API key.")
    digest = hashlib.sha256(token.encode()).digest()
    if OPERATOR_KEY and hmac.compare_digest(digest, hashlib.sha256(OPERATOR_KEY.encode()).digest()):
        who = ("operator", None)
    else:
        prefix, _, rest = token.partition("_")
        key_id, _, secret = rest.partition("_")
        if prefix != "gp" or len(key_id) != 16 or not secret:
            raise problem(401, "unauthorized", "The API key is not valid.")
        now = time.monotonic()
        cached = _keys.get(key_id)
        if cached and now - cached[0] < KEY_CACHE_SECONDS:
            row = cached[1]
        else:
            async with engine.connect() as conn:
                result = await conn.execute(
                    text("SELECT id, key_hash, disabled_at FROM partners WHERE key_id = :k"),
                    {"k": key_id},
                )
                found = result.mappings().first()
            row = dict(found) if found else None
            _keys[key_id] = (now, row)
        ok = row is not None and hmac.compare_digest(
            hashlib.sha256(secret.encode()).digest(), bytes(row["key_hash"])
        )
        if not ok or row["disabled_at"] is not None:
            raise problem(401, "unauthorized", "The API key is not valid.")
        who = (key_id, str(row["id"]))
    window = int(time.time() // 60)
    rkey = f"ratelimit:{who[0]}:{window}"
    async with cache.pipeline(transaction=False) as pipe:
        pipe.incr(rkey)
        pipe.expire(rkey, 120)
        count, _ = await pipe.execute()
    if int(count) > RATE_LIMIT:
        raise problem(429, "rate-limited", "Too many requests.")
    return who


Principal = Annotated[tuple[str, str | None], Depends(principal)]


def partner_of(who: tuple[str, str | None]) -> str:
    if who[1] is None:
        raise problem(403, "forbidden", "This route is for partner keys.")
    return who[1]


# ------------------------------------------------------------------ R


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT):f}"


def grams_str(value: Decimal) -> str:
    return f"{value.quantize(MILLI_GRAM):f}"


@app.get("/v1/rates/current")
async def current_rate(who: Principal) -> Response:
    key = f"rate:current:{CURRENCY}"
    body = await cache.get(key)
    if body is None:
        async with engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        text(
                            "SELECT id, currency, buy_price, sell_price, tax_rate, source,"
                            " published_at, valid_until FROM rates WHERE currency = :c"
                            " ORDER BY published_at DESC LIMIT 1"
                        ),
                        {"c": CURRENCY},
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise problem(404, "no-rate", "No rate has been published yet.")
        with_tax = (row["buy_price"] * (1 + row["tax_rate"])).quantize(CENT, ROUND_CEILING)
        body = json.dumps(
            {
                "rate_id": str(row["id"]),
                "currency": row["currency"],
                "buy_price": money(row["buy_price"]),
                "sell_price": money(row["sell_price"]),
                "tax_rate": f"{row['tax_rate']:f}",
                "buy_price_with_tax": money(with_tax),
                "published_at": row["published_at"].isoformat(),
                "valid_until": row["valid_until"].isoformat(),
            }
        ).encode()
        await cache.set(key, body, ex=CACHE_TTL_SECONDS)
    return Response(body, media_type="application/json")


# ------------------------------------------------------------------ W

_TX_COLUMNS = """
    t.id, t.seq, t.user_id, t.rate_id, t.side, t.quoted_in, t.status, t.currency, t.grams,
    t.price_per_gram, t.tax_rate, t.pre_tax_amount, t.tax_amount, t.total_amount,
    t.created_at, t.expires_at, t.settled_at, t.expires_at <= now() AS past_expiry
"""
_USER = """
    SELECT u.id, u.external_id, u.kyc_status, u.kyc_verified_at, u.created_at,
           g.balance AS balance_grams, g.cost_basis
      FROM users u
      JOIN accounts g ON g.user_id = u.id AND g.kind = 'user_gold'
     WHERE u.partner_id = :p AND u.id = :u
"""
SQL = {
    "claim": text(
        "INSERT INTO idempotency_keys (partner_id, key, request_hash) VALUES (:p, :k, :h)"
        " ON CONFLICT (partner_id, key) DO NOTHING RETURNING 1"
    ),
    "stored": text(
        "SELECT request_hash, response_status, response_body FROM idempotency_keys"
        " WHERE partner_id = :p AND key = :k"
    ),
    "record": text(
        "UPDATE idempotency_keys SET response_status = :s, response_body = :b"
        " WHERE partner_id = :p AND key = :k"
    ),
    "user": text(_USER),
    "rate": text(
        "SELECT id, currency, buy_price, sell_price, tax_rate, source, published_at, valid_until,"
        " valid_until > now() AS valid FROM rates WHERE id = :r"
    ),
    "insert_tx": text(
        f"""
        WITH t AS (
            INSERT INTO transactions (partner_id, user_id, rate_id, side, quoted_in, currency,
                grams, price_per_gram, tax_rate, pre_tax_amount, tax_amount, total_amount,
                expires_at)
            VALUES (:p, :u, :r, 'buy', :q, :c, :g, :ppg, :tr, :pre, :tax, :tot,
                    now() + make_interval(secs => :exp))
            RETURNING *
        )
        SELECT {_TX_COLUMNS} FROM t
        """
    ),
    "lock_tx": text(
        f"SELECT {_TX_COLUMNS} FROM transactions t WHERE t.partner_id = :p AND t.id = :t FOR UPDATE"
    ),
    "lock_holding": text(
        """
        SELECT g.id AS gold_account_id, g.balance, g.cost_basis,
               m.id AS money_account_id, u.kyc_status
          FROM users u
          JOIN accounts g ON g.user_id = u.id AND g.kind = 'user_gold'
          JOIN accounts m ON m.user_id = u.id AND m.kind = 'user_money'
         WHERE u.partner_id = :p AND u.id = :u
           FOR UPDATE OF g
        """
    ),
    "gold": text("UPDATE accounts SET balance = balance + :d, cost_basis = :cb WHERE id = :a"),
    "cash": text("UPDATE accounts SET balance = balance + :d WHERE id = :a"),
    "entries": text(
        "INSERT INTO ledger_entries (transaction_id, account_id, unit, amount) VALUES"
        " (:t, :ga, 'XAU_G', :g),"
        " (:t, (SELECT id FROM accounts WHERE user_id IS NULL AND kind = 'vault_gold'"
        " AND unit = 'XAU_G'), 'XAU_G', :ng),"
        " (:t, :ma, :c, :nm),"
        " (:t, (SELECT id FROM accounts WHERE user_id IS NULL AND kind = 'treasury_money'"
        " AND unit = :c), :c, :m)"
    ),
    "settle": text(
        f"""
        WITH t AS (
            UPDATE transactions SET status = 'confirmed', settled_at = now()
             WHERE id = :t RETURNING *
        )
        SELECT {_TX_COLUMNS} FROM t
        """
    ),
}


def tx_json(row) -> dict:
    status = "expired" if row["status"] == "pending" and row["past_expiry"] else row["status"]
    return {
        "id": str(row["id"]),
        "user_id": str(row["user_id"]),
        "side": row["side"],
        "status": status,
        "quoted_in": row["quoted_in"],
        "rate_id": str(row["rate_id"]),
        "currency": row["currency"],
        "grams": grams_str(row["grams"]),
        "price_per_gram": money(row["price_per_gram"]),
        "tax_rate": f"{row['tax_rate']:f}",
        "pre_tax_amount": money(row["pre_tax_amount"]),
        "tax_amount": money(row["tax_amount"]),
        "total_amount": money(row["total_amount"]),
        "created_at": row["created_at"].isoformat(),
        "expires_at": row["expires_at"].isoformat(),
        "settled_at": row["settled_at"].isoformat() if row["settled_at"] else None,
    }


class TradeRequest(BaseModel):
    user_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    rate_id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    amount: Decimal | None = Field(default=None, gt=0, max_digits=14, decimal_places=2)
    grams: Decimal | None = Field(default=None, gt=0, max_digits=14, decimal_places=4)

    @model_validator(mode="after")
    def _one_of(self):
        if (self.amount is None) == (self.grams is None):
            raise ValueError("give exactly one of amount or grams")
        return self


def fingerprint(method: str, path: str, body: dict | None) -> bytes:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).digest()


async def run_once(partner_id: str, key: str | None, fp: bytes, work) -> tuple[int, dict]:
    async with engine.begin() as conn:
        if key is not None:
            claimed = (
                await conn.execute(SQL["claim"], {"p": partner_id, "k": key, "h": fp})
            ).first()
            if claimed is None:
                prior = (
                    (await conn.execute(SQL["stored"], {"p": partner_id, "k": key}))
                    .mappings()
                    .first()
                )
                if bytes(prior["request_hash"]) != fp:
                    raise problem(422, "idempotency-key-reused", "Key reused with another body.")
                return prior["response_status"], prior["response_body"]
        status, body = await work(conn)
        if key is not None:
            await conn.execute(
                SQL["record"], {"s": status, "b": json.dumps(body), "p": partner_id, "k": key}
            )
        return status, body


@app.post("/v1/transactions/buy", status_code=201)
async def verify_buy(
    trade: TradeRequest,
    request: Request,
    who: Principal,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    partner_id = partner_of(who)
    user_id, rate_id = trade.user_id.lower(), trade.rate_id.lower()

    async def work(conn: AsyncConnection):
        user = (await conn.execute(SQL["user"], {"p": partner_id, "u": user_id})).mappings().first()
        if user is None:
            raise problem(404, "not-found", "The user does not exist.")
        rate = (await conn.execute(SQL["rate"], {"r": rate_id})).mappings().first()
        if rate is None or rate["currency"] != CURRENCY:
            raise problem(404, "not-found", "The rate_id is unknown.")
        if not rate["valid"]:
            raise problem(409, "rate-expired", "The rate has expired.")
        with_tax = (rate["buy_price"] * (1 + rate["tax_rate"])).quantize(CENT, ROUND_CEILING)
        if trade.amount is not None:
            total, quoted_in = trade.amount, "amount"
            if total < MIN_BUY:
                raise problem(422, "validation-failed", "Below the minimum buy.")
            grams = (total / with_tax).quantize(MILLI_GRAM, ROUND_FLOOR)
        else:
            grams, quoted_in = trade.grams, "grams"
            total = (grams * with_tax).quantize(CENT, ROUND_CEILING)
        pre_tax = (total / (1 + rate["tax_rate"])).quantize(CENT, ROUND_FLOOR)
        if user["balance_grams"] + grams > KYC_THRESHOLD and user["kyc_status"] != "verified":
            raise problem(403, "kyc-required", "KYC verification required.")
        row = (
            (
                await conn.execute(
                    SQL["insert_tx"],
                    {
                        "p": partner_id,
                        "u": user_id,
                        "r": rate_id,
                        "q": quoted_in,
                        "c": CURRENCY,
                        "g": grams,
                        "ppg": rate["buy_price"],
                        "tr": rate["tax_rate"],
                        "pre": pre_tax,
                        "tax": total - pre_tax,
                        "tot": total,
                        "exp": float(TRADE_EXPIRY_SECONDS),
                    },
                )
            )
            .mappings()
            .first()
        )
        return 201, tx_json(row)

    body = trade.model_dump(mode="json", exclude_none=True)
    status, out = await run_once(
        partner_id, idempotency_key, fingerprint("POST", request.url.path, body), work
    )
    return JSONResponse(out, status_code=status)


@app.post("/v1/transactions/{transaction_id}/confirm")
async def confirm(
    transaction_id: str,
    request: Request,
    who: Principal,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    partner_id = partner_of(who)
    transaction_id = transaction_id.lower()

    async def work(conn: AsyncConnection):
        tx = (
            (await conn.execute(SQL["lock_tx"], {"p": partner_id, "t": transaction_id}))
            .mappings()
            .first()
        )
        if tx is None:
            raise problem(404, "not-found", "The transaction does not exist.")
        if tx["status"] == "confirmed":
            return 200, tx_json(tx)
        if tx["status"] != "pending" or tx["past_expiry"]:
            raise problem(409, "transaction-expired", "Not confirmable.")
        holding = (
            (await conn.execute(SQL["lock_holding"], {"p": partner_id, "u": tx["user_id"]}))
            .mappings()
            .first()
        )
        grams, total = tx["grams"], tx["total_amount"]
        if holding["balance"] + grams > KYC_THRESHOLD and holding["kyc_status"] != "verified":
            raise problem(403, "kyc-required", "KYC verification required.")
        await conn.execute(
            SQL["gold"],
            {"d": grams, "cb": holding["cost_basis"] + total, "a": holding["gold_account_id"]},
        )
        await conn.execute(SQL["cash"], {"d": -total, "a": holding["money_account_id"]})
        await conn.execute(
            SQL["entries"],
            {
                "t": transaction_id,
                "ga": holding["gold_account_id"],
                "ma": holding["money_account_id"],
                "c": tx["currency"],
                "g": grams,
                "ng": -grams,
                "m": total,
                "nm": -total,
            },
        )
        row = (await conn.execute(SQL["settle"], {"t": transaction_id})).mappings().first()
        return 200, tx_json(row)

    status, out = await run_once(
        partner_id, idempotency_key, fingerprint("POST", request.url.path, None), work
    )
    return JSONResponse(out, status_code=status)


# ------------------------------------------------------------------ probes


@app.get("/health/ready")
async def ready() -> JSONResponse:
    async with engine.connect() as conn:
        head = (await conn.execute(text("SELECT max(migration_id) FROM _yoyo_migration"))).scalar()
    redis_ok = await cache.ping()
    return JSONResponse({"status": "ready" if head and redis_ok else "degraded", "migration": head})
