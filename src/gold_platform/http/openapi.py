"""The OpenAPI 3.1 document, and the JSON Schemas that validate request bodies.

Request schemas are defined once here and used twice: compiled into
validators for the handlers, and published under `components.schemas`.
A test checks that every route is documented and every documented route exists.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from jsonschema import Draft202012Validator

from .. import __version__
from ..domain.money import MAX_GRAMS, MAX_MONEY
from ..domain.portfolio import MAX_AVERAGE_PRICE, MAX_VALUE


def decimal_pattern(maximum: Decimal | None, places: int, *, signed: bool = False) -> str:
    """Decimal strings up to `maximum`'s integer digits (any number without one)."""
    more = "*" if maximum is None else f"{{0,{len(str(int(maximum))) - 1}}}"
    sign = "-?" if signed else ""
    return rf"^{sign}(0|[1-9][0-9]{more})(\.[0-9]{{1,{places}}})?$"


UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# The domain's largest figures (domain/money.py) are what the patterns allow.
MONEY_PATTERN = decimal_pattern(MAX_MONEY, 2)
GRAMS_PATTERN = decimal_pattern(MAX_GRAMS, 4)
RATIO_PATTERN = r"^0(\.[0-9]{1,4})?$"

# "x-expected" says, for people, what a field takes: validation messages quote
# it instead of the library's (which echo the value and print the pattern).
_MONEY = {
    "type": "string",
    "pattern": MONEY_PATTERN,
    "examples": ["1000.00"],
    "x-expected": "an amount with at most 12 digits before the point and at most 2 decimal"
    ' places, as a string such as "100.00"',
}
_GRAMS = {
    "type": "string",
    "pattern": GRAMS_PATTERN,
    "examples": ["0.5000"],
    "x-expected": "grams with at most 9 digits before the point and at most 4 decimal"
    ' places, as a string such as "0.5000"',
}
_UUID = {
    "type": "string",
    "pattern": UUID_PATTERN,
    "x-expected": 'a UUID, as a string such as "3fa85f64-5717-4562-b3fc-2c963f66afa6"',
}
_TIME = {"type": "string", "format": "date-time"}
# Platform-wide sums of holdings (the vault's is negative): no fixed number of digits.
_TOTAL_GRAMS = {"type": "string", "pattern": decimal_pattern(None, 4, signed=True)}

REQUEST_SCHEMAS: dict[str, dict[str, Any]] = {
    "CreatePartner": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "description": "At least one visible character (not only spaces or"
                " zero-width characters).",
                "x-expected": 'a name of 1 to 200 characters, as a string such as "acme-bank"',
            }
        },
    },
    "PublishRate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["buy_price", "sell_price"],
        "properties": {
            "buy_price": _MONEY,
            "sell_price": _MONEY,
            "tax_rate": {
                "type": "string",
                "pattern": RATIO_PATTERN,
                "x-expected": "a ratio from 0 up to (not including) 1 with at most 4 decimal"
                ' places, as a string such as "0.03"',
            },
        },
    },
    "CreateUser": {
        "type": "object",
        "additionalProperties": False,
        "required": ["external_id"],
        "properties": {
            "external_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": 128,
                "pattern": "^[A-Za-z0-9._:@-]+$",
                "x-expected": "1 to 128 letters, digits or . _ : @ -, as a string such as"
                ' "cust-42"',
            }
        },
    },
    "KycAttestation": {
        "type": "object",
        "additionalProperties": False,
        "required": ["status"],
        "properties": {"status": {"const": "verified", "x-expected": 'the string "verified"'}},
    },
    "TradeRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["user_id", "rate_id"],
        "properties": {
            "user_id": _UUID,
            "rate_id": _UUID,
            "amount": {
                **_MONEY,
                "description": "Money to pay (buy, tax included) or receive (sell).",
            },
            "grams": {**_GRAMS, "description": "Grams to buy or sell."},
        },
        "oneOf": [{"required": ["amount"]}, {"required": ["grams"]}],
    },
}

VALIDATORS = {name: Draft202012Validator(schema) for name, schema in REQUEST_SCHEMAS.items()}

RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "message"],
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    },
    "Partner": {
        "type": "object",
        "required": ["id", "name", "api_key", "created_at"],
        "properties": {
            "id": _UUID,
            "name": {"type": "string"},
            "api_key": {
                "type": "string",
                "description": "Shown in this answer only; only its hash is kept. A replay"
                " (same Idempotency-Key) carries a new key and the earlier one stops working.",
            },
            "created_at": _TIME,
        },
    },
    "Rate": {
        "type": "object",
        "required": [
            "rate_id",
            "currency",
            "buy_price",
            "sell_price",
            "tax_rate",
            "buy_price_with_tax",
            "published_at",
            "valid_until",
        ],
        "properties": {
            "rate_id": _UUID,
            "currency": {"type": "string"},
            "buy_price": _MONEY,
            "sell_price": _MONEY,
            "tax_rate": {"type": "string"},
            "buy_price_with_tax": _MONEY,
            "published_at": _TIME,
            "valid_until": _TIME,
        },
    },
    "RateHistory": {
        "type": "object",
        "required": ["currency", "interval", "from", "to", "buckets"],
        "properties": {
            "currency": {"type": "string"},
            "interval": {"type": "string"},
            "from": _TIME,
            "to": _TIME,
            "buckets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["start", "buy", "sell", "samples"],
                    "properties": {
                        "start": _TIME,
                        "samples": {"type": "integer"},
                        "buy": {"$ref": "#/components/schemas/Candle"},
                        "sell": {"$ref": "#/components/schemas/Candle"},
                    },
                },
            },
        },
    },
    "Candle": {
        "type": "object",
        "required": ["open", "high", "low", "close"],
        "properties": {"open": _MONEY, "high": _MONEY, "low": _MONEY, "close": _MONEY},
    },
    "User": {
        "type": "object",
        "required": ["id", "external_id", "kyc_status", "balance_grams", "created_at"],
        "properties": {
            "id": _UUID,
            "external_id": {"type": "string"},
            "kyc_status": {"enum": ["pending", "verified"]},
            "balance_grams": _GRAMS,
            "created_at": _TIME,
        },
    },
    "Portfolio": {
        "type": "object",
        "required": [
            "user_id",
            "currency",
            "grams",
            "invested_amount",
            "average_buy_price",
            "current_value",
            "unrealised_pnl",
            "valued_at_rate_id",
        ],
        "properties": {
            "user_id": _UUID,
            "currency": {"type": "string"},
            "grams": _GRAMS,
            "invested_amount": _MONEY,
            "average_buy_price": {
                "type": ["string", "null"],
                "pattern": decimal_pattern(MAX_AVERAGE_PRICE, 2),
                "description": "Invested amount / grams: over a tiny holding it may exceed any"
                " one price, hence more digits.",
            },
            "current_value": {
                "type": ["string", "null"],
                "pattern": decimal_pattern(MAX_VALUE, 2),
                "description": "grams x the current sell price, rounded down.",
            },
            "unrealised_pnl": {
                "type": ["string", "null"],
                "pattern": decimal_pattern(MAX_VALUE, 2, signed=True),
            },
            "valued_at_rate_id": {"type": ["string", "null"]},
        },
    },
    "Transaction": {
        "type": "object",
        "required": [
            "id",
            "user_id",
            "side",
            "status",
            "quoted_in",
            "rate_id",
            "currency",
            "grams",
            "price_per_gram",
            "tax_rate",
            "pre_tax_amount",
            "tax_amount",
            "total_amount",
            "created_at",
            "expires_at",
            "settled_at",
        ],
        "properties": {
            "id": _UUID,
            "user_id": _UUID,
            "side": {"enum": ["buy", "sell"]},
            "status": {"enum": ["pending", "confirmed", "cancelled", "expired"]},
            "quoted_in": {"enum": ["amount", "grams"]},
            "rate_id": _UUID,
            "currency": {"type": "string"},
            "grams": _GRAMS,
            "price_per_gram": _MONEY,
            "tax_rate": {"type": "string"},
            "pre_tax_amount": _MONEY,
            "tax_amount": _MONEY,
            "total_amount": {**_MONEY, "description": "Paid by the user (buy) or paid out (sell)."},
            "created_at": _TIME,
            "expires_at": _TIME,
            "settled_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "TransactionPage": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Transaction"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Reconciliation": {
        "type": "object",
        "required": ["balanced", "user_grams", "vault_grams", "checks", "money"],
        "properties": {
            "balanced": {"type": "boolean"},
            "user_grams": _TOTAL_GRAMS,
            "vault_grams": _TOTAL_GRAMS,
            "checks": {"type": "object", "additionalProperties": {"type": "integer"}},
            "money": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["currency", "account", "total"],
                    "properties": {
                        "currency": {"type": "string"},
                        "account": {"enum": ["user_money", "treasury_money"]},
                        "total": {
                            "type": "string",
                            "pattern": decimal_pattern(None, 2, signed=True),
                            "description": "A platform-wide sum: any number of digits.",
                        },
                    },
                },
            },
        },
    },
}

_PROBLEM_STATUSES = {
    400: "Malformed request (bad JSON, bad header).",
    401: "Missing or invalid API key.",
    403: "The key may not use this route, or a rule forbids it.",
    404: "Not found (or owned by another partner).",
    409: "Conflicts with the current state (expired rate, balance, status).",
    413: "Body too large.",
    415: "Body is not application/json.",
    422: "Body or parameters are invalid, or a rule refuses the trade.",
    429: "Rate limit exceeded; see Retry-After.",
    503: "A dependency is unavailable; retry.",
}


def _problem(status: int) -> dict:
    return {
        "description": _PROBLEM_STATUSES[status],
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def _ok(schema: str, description: str = "OK") -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Same key and request: nothing is done again and the first response is replayed,"
        " byte for byte, with the header `Idempotent-Replayed: true` (createPartner's replay"
        " differs only by a new api_key: see there). Different body or route: 422. Keys are"
        " per partner, and the operator's are its own. A key is kept for the deployment's"
        " IDEMPOTENCY_KEY_TTL_HOURS (24 by default) after its first use, then forgotten: used"
        " again after that, it is a new request."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": _UUID}


def _operation(
    op_id: str,
    summary: str,
    ok: dict[int, dict],
    *,
    role: str = "partner",
    body: str | None = None,
    parameters: list[dict] | None = None,
    errors: tuple[int, ...] = (),
    description: str | None = None,
) -> dict:
    params = list(parameters or [])
    statuses = {401, 403, 429, 503, *errors}
    if body is not None:
        params.append(_IDEMPOTENCY_KEY)
        statuses |= {400, 413, 415, 422}
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "tags": ["admin" if role == "operator" else "partner"],
        **({"description": description} if description else {}),
        "x-role": role,
        "responses": {**{str(k): v for k, v in ok.items()}},
    }
    for status in sorted(statuses):
        op["responses"][str(status)] = _problem(status)
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    return op


USER_ID = _path_id("user_id")
TRANSACTION_ID = _path_id("transaction_id")

OPERATIONS: dict[tuple[str, str], dict] = {
    ("POST", "/v1/admin/partners"): _operation(
        "createPartner",
        "Create a partner and its API key (shown once)",
        {201: _ok("Partner", "Created")},
        role="operator",
        body="CreatePartner",
        errors=(409,),
        description=(
            "The API key is in this answer only (only its hash is stored, so no replay can"
            " show it again). Retry with the same Idempotency-Key when an answer was lost: the"
            " retry creates nothing, answers the same partner (same id, name, created_at; 201,"
            " `Idempotent-Replayed: true`) with a new api_key, rotated in the same transaction,"
            " and every earlier key of that partner stops working (within 30 s in every"
            " worker). Without a key, a retry answers 409 partner-exists and the key is lost."
        ),
    ),
    ("POST", "/v1/admin/rates"): _operation(
        "publishRate",
        "Publish a rate",
        {201: _ok("Rate", "Published")},
        role="operator",
        body="PublishRate",
    ),
    ("GET", "/v1/admin/reconciliation"): _operation(
        "reconcile",
        "Ledger reconciliation",
        {200: _ok("Reconciliation")},
        role="operator",
    ),
    ("GET", "/v1/rates/current"): _operation(
        "getCurrentRate",
        "The current rate (lock it by quoting its rate_id)",
        {200: _ok("Rate")},
        role="any",
        errors=(404,),
        description=(
            "Only a rate that can still be quoted (`valid_until` in the future) is current."
            " When the latest published rate has expired (the feed has stalled) the answer is"
            " 503 `rate-stale` with Retry-After, never the expired rate: quoting it would be"
            " refused with 409 rate-expired. 404 `no-rate` means none was ever published."
        ),
    ),
    ("GET", "/v1/rates/history"): _operation(
        "getRateHistory",
        "Rate history bucketed for charts",
        {200: _ok("RateHistory")},
        role="any",
        errors=(422,),
        parameters=[
            {"name": "from", "in": "query", "schema": {"type": "string", "format": "date-time"}},
            {"name": "to", "in": "query", "schema": {"type": "string", "format": "date-time"}},
            {
                "name": "interval",
                "in": "query",
                "schema": {"enum": ["1m", "5m", "15m", "1h", "1d"], "default": "1h"},
            },
        ],
    ),
    ("POST", "/v1/users"): _operation(
        "createUser",
        "Create a user (idempotent per external_id)",
        {200: _ok("User", "Already existed"), 201: _ok("User", "Created")},
        body="CreateUser",
    ),
    ("GET", "/v1/users/{user_id}"): _operation(
        "getUser",
        "A user with gold balance and KYC status",
        {200: _ok("User")},
        parameters=[USER_ID],
        errors=(404,),
    ),
    ("POST", "/v1/users/{user_id}/kyc"): _operation(
        "attestKyc",
        "Attest that the partner verified the user's KYC",
        {200: _ok("User")},
        body="KycAttestation",
        parameters=[USER_ID],
        errors=(404,),
    ),
    ("GET", "/v1/users/{user_id}/portfolio"): _operation(
        "getPortfolio",
        "Holdings valued at the current sell price",
        {200: _ok("Portfolio")},
        parameters=[USER_ID],
        errors=(404,),
    ),
    ("GET", "/v1/users/{user_id}/transactions"): _operation(
        "listTransactions",
        "Transaction history, newest first, keyset-paginated",
        {200: _ok("TransactionPage")},
        errors=(404, 422),
        parameters=[
            USER_ID,
            {"name": "side", "in": "query", "schema": {"enum": ["buy", "sell"]}},
            {
                "name": "status",
                "in": "query",
                "schema": {"enum": ["pending", "confirmed", "cancelled", "expired"]},
            },
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            },
            {"name": "cursor", "in": "query", "schema": {"type": "string"}},
        ],
    ),
    ("POST", "/v1/transactions/buy"): _operation(
        "verifyBuy",
        "Verify a buy: a pending transaction with every figure fixed",
        {201: _ok("Transaction", "Pending")},
        body="TradeRequest",
        errors=(404, 409),
    ),
    ("POST", "/v1/transactions/sell"): _operation(
        "verifySell",
        "Verify a sell: a pending transaction with every figure fixed",
        {201: _ok("Transaction", "Pending")},
        body="TradeRequest",
        errors=(404, 409),
    ),
    ("GET", "/v1/transactions/{transaction_id}"): _operation(
        "getTransaction",
        "One transaction",
        {200: _ok("Transaction")},
        parameters=[TRANSACTION_ID],
        errors=(404,),
    ),
    ("POST", "/v1/transactions/{transaction_id}/confirm"): _operation(
        "confirmTransaction",
        "Confirm (settle) a pending transaction",
        {200: _ok("Transaction")},
        parameters=[TRANSACTION_ID, _IDEMPOTENCY_KEY],
        errors=(404, 409, 422),
    ),
    ("POST", "/v1/transactions/{transaction_id}/cancel"): _operation(
        "cancelTransaction",
        "Cancel a pending transaction",
        {200: _ok("Transaction")},
        parameters=[TRANSACTION_ID, _IDEMPOTENCY_KEY],
        errors=(404, 409, 422),
    ),
}


def document() -> dict:
    paths: dict[str, dict] = {}
    for (method, path), operation in OPERATIONS.items():
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Gold Platform API",
            "version": __version__,
            "description": (
                "Partners' users buy, hold and sell gold at locked rates. Money (2 decimals) "
                "and grams (4 decimals) are JSON strings. Errors are RFC 9457 problem+json."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "gp_<id>_<secret>"}
            },
            "schemas": {**REQUEST_SCHEMAS, **RESPONSE_SCHEMAS},
        },
    }
