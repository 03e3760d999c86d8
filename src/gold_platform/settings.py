"""Configuration from environment variables, validated once at start-up.

Every variable the service reads is named in this module as a string literal
(`compose-check` relies on that to catch drift between compose.yaml and code).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

REPO_MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "console")


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = field(repr=False)
    database_pool_size: int = 20
    database_max_overflow: int = 10
    database_statement_timeout_ms: int = 5000
    redis_url: str | None = None
    log_level: str = "INFO"
    log_format: str = "json"
    web_concurrency: int = 4
    host: str = "0.0.0.0"
    port: int = 8080
    # Prometheus metrics have their own listener, never the public API port;
    # loopback unless told otherwise (the image sets 0.0.0.0 for the scraper).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9090
    graceful_timeout_seconds: int = 20
    migrations_dir: Path = REPO_MIGRATIONS_DIR
    operator_api_key: str | None = field(default=None, repr=False)
    currency: str = "INR"
    buy_tax_rate: Decimal = Decimal("0.03")
    min_buy_amount: Decimal = Decimal("10.00")
    rate_validity_seconds: int = 300
    trade_expiry_seconds: int = 600
    kyc_threshold_grams: Decimal = Decimal("10")
    rate_limit_per_minute: int = 600
    max_body_bytes: int = 65536
    idempotency_key_ttl_hours: int = 24

    @property
    def database_pool_max(self) -> int:
        """The pool keeps `size` connections and may grow by `overflow` under load."""
        return self.database_pool_size + self.database_max_overflow

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        settings = cls(
            database_url=reader.get("DATABASE_URL", _postgres_url),
            database_pool_size=reader.get("DATABASE_POOL_SIZE", _int_between(1, 500), 20),
            database_max_overflow=reader.get("DATABASE_MAX_OVERFLOW", _int_between(0, 500), 10),
            database_statement_timeout_ms=reader.get(
                "DATABASE_STATEMENT_TIMEOUT_MS", _int_between(100, 600_000), 5000
            ),
            redis_url=reader.get("REDIS_URL", _redis_url, None),
            log_level=reader.get("LOG_LEVEL", _choice(LOG_LEVELS, upper=True), "INFO"),
            log_format=reader.get("LOG_FORMAT", _choice(LOG_FORMATS), "json"),
            web_concurrency=reader.get("WEB_CONCURRENCY", _int_between(1, 64), 4),
            host=reader.get("HOST", _non_empty, "0.0.0.0"),
            port=reader.get("PORT", _int_between(1, 65535), 8080),
            metrics_host=reader.get("METRICS_HOST", _non_empty, "127.0.0.1"),
            metrics_port=reader.get("METRICS_PORT", _int_between(1, 65535), 9090),
            graceful_timeout_seconds=reader.get(
                "GRACEFUL_TIMEOUT_SECONDS", _int_between(1, 600), 20
            ),
            migrations_dir=reader.get("MIGRATIONS_DIR", _existing_dir, REPO_MIGRATIONS_DIR),
            operator_api_key=reader.get("OPERATOR_API_KEY", _secret_key, None),
            currency=reader.get("CURRENCY", _currency_code, "INR"),
            buy_tax_rate=reader.get("BUY_TAX_RATE", _tax_rate, Decimal("0.03")),
            min_buy_amount=reader.get(
                "MIN_BUY_AMOUNT", _decimal_between("0.01", "1000000000"), Decimal("10.00")
            ),
            rate_validity_seconds=reader.get("RATE_VALIDITY_SECONDS", _int_between(5, 86_400), 300),
            trade_expiry_seconds=reader.get("TRADE_EXPIRY_SECONDS", _int_between(5, 86_400), 600),
            kyc_threshold_grams=reader.get(
                "KYC_THRESHOLD_GRAMS", _decimal_between("0", "1000000"), Decimal("10")
            ),
            rate_limit_per_minute=reader.get(
                "RATE_LIMIT_PER_MINUTE", _int_between(1, 1_000_000), 600
            ),
            max_body_bytes=reader.get("MAX_BODY_BYTES", _int_between(1024, 10_485_760), 65536),
            idempotency_key_ttl_hours=reader.get(
                "IDEMPOTENCY_KEY_TTL_HOURS", _int_between(1, 8760), 24
            ),
        )
        if settings.metrics_port == settings.port:
            reader.error(f"METRICS_PORT={settings.metrics_port}: must differ from PORT")
        reader.raise_errors()
        return settings


class _Reader:
    """Collects every bad variable so one start-up reports them all on one line."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._errors: list[str] = []

    _REQUIRED = object()

    def get(self, name: str, parse: Callable[[str], T], default: object = _REQUIRED) -> T:
        raw = self._env.get(name, "").strip()
        if not raw:
            if default is self._REQUIRED:
                self._errors.append(f"{name} is required")
            return default  # type: ignore[return-value]
        try:
            return parse(raw)
        except (ValueError, InvalidOperation) as exc:
            self._errors.append(f"{name}={_redact(name, raw)!s}: {exc}")
            return default  # type: ignore[return-value]

    def error(self, message: str) -> None:
        self._errors.append(message)

    def raise_errors(self) -> None:
        if self._errors:
            raise SettingsError("invalid configuration: " + "; ".join(self._errors))


def _redact(name: str, raw: str) -> str:
    if "KEY" in name or "URL" in name:
        return "<redacted>"
    return raw


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("must be an integer") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _decimal_between(low: str, high: str) -> Callable[[str], Decimal]:
    def parse(raw: str) -> Decimal:
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ValueError("must be a decimal number") from None
        if not value.is_finite() or not Decimal(low) <= value <= Decimal(high):
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _tax_rate(raw: str) -> Decimal:
    """Stored as numeric(6,4) with CHECK (tax_rate < 1): refuse what it cannot hold."""
    value = _decimal_between("0", "1")(raw)
    if value >= 1 or value != value.quantize(Decimal("0.0001")):
        raise ValueError("must be at least 0 and below 1, with at most 4 decimals")
    return value


def _choice(options: tuple[str, ...], *, upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.upper() if upper else raw.lower()
        if value not in options:
            raise ValueError("must be one of " + ", ".join(options))
        return value

    return parse


def _non_empty(raw: str) -> str:
    return raw


def _postgres_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("must be a postgresql:// URL")
    if not parts.path.strip("/"):
        raise ValueError("must name a database")
    return raw


def _redis_url(raw: str) -> str:
    if urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    return raw


def _existing_dir(raw: str) -> Path:
    path = Path(raw)
    if not path.is_dir():
        raise ValueError("must be an existing directory")
    return path


def _secret_key(raw: str) -> str:
    if len(raw) < 24:
        raise ValueError("must be at least 24 characters")
    return raw


def _currency_code(raw: str) -> str:
    if len(raw) != 3 or not raw.isalpha():
        raise ValueError("must be a three-letter ISO 4217 code")
    return raw.upper()
