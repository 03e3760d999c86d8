import subprocess
import sys
from decimal import Decimal

import pytest

from gold_platform.settings import Settings, SettingsError

URL = "postgresql://u@127.0.0.1:5432/gold"


def test_defaults_match_the_documented_ones():
    s = Settings.from_env({"DATABASE_URL": URL})
    assert s.database_pool_size == 20
    assert s.database_max_overflow == 10
    assert s.database_pool_max == 30
    assert s.web_concurrency == 4
    assert s.port == 8080
    assert (s.metrics_host, s.metrics_port) == ("127.0.0.1", 9090)
    assert s.redis_url is None
    assert s.log_format == "json"
    assert s.buy_tax_rate == Decimal("0.03")
    assert isinstance(s.min_buy_amount, Decimal)
    assert s.idempotency_key_ttl_hours == 24


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "DATABASE_URL is required"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL=<redacted>: must be a postgresql:// URL"),
        (
            {"DATABASE_URL": URL, "DATABASE_POOL_SIZE": "many"},
            "DATABASE_POOL_SIZE=many: must be an integer",
        ),
        ({"DATABASE_URL": URL, "DATABASE_POOL_SIZE": "0"}, "must be between 1 and 500"),
        ({"DATABASE_URL": URL, "PORT": "70000"}, "PORT=70000: must be between 1 and 65535"),
        ({"DATABASE_URL": URL, "METRICS_PORT": "0"}, "METRICS_PORT=0: must be between 1 and 65535"),
        (
            {"DATABASE_URL": URL, "PORT": "9000", "METRICS_PORT": "9000"},
            "METRICS_PORT=9000: must differ from PORT",
        ),
        (
            {"DATABASE_URL": URL, "LOG_FORMAT": "xml"},
            "LOG_FORMAT=xml: must be one of json, console",
        ),
        ({"DATABASE_URL": URL, "LOG_LEVEL": "loud"}, "LOG_LEVEL=loud"),
        ({"DATABASE_URL": URL, "REDIS_URL": "http://x"}, "REDIS_URL=<redacted>"),
        ({"DATABASE_URL": URL, "BUY_TAX_RATE": "NaN"}, "BUY_TAX_RATE=NaN: must be between 0 and 1"),
        (
            {"DATABASE_URL": URL, "OPERATOR_API_KEY": "short"},
            "OPERATOR_API_KEY=<redacted>: must be at least 24",
        ),
        ({"DATABASE_URL": URL, "CURRENCY": "RUPEE"}, "CURRENCY=RUPEE: must be a three-letter"),
        (
            {"DATABASE_URL": URL, "IDEMPOTENCY_KEY_TTL_HOURS": "0"},
            # redacted like every *KEY* variable, though this one is no secret
            "IDEMPOTENCY_KEY_TTL_HOURS=<redacted>: must be between 1 and 8760",
        ),
        (
            {"DATABASE_URL": URL, "MIGRATIONS_DIR": "/does/not/exist"},
            "must be an existing directory",
        ),
    ],
)
def test_bad_values_are_named_in_one_message(env, message):
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_all_bad_values_are_reported_together():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"DATABASE_URL": URL, "PORT": "x", "WEB_CONCURRENCY": "0"})
    assert "PORT=x" in str(info.value)
    assert "WEB_CONCURRENCY=0" in str(info.value)


def test_secrets_are_not_echoed():
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"DATABASE_URL": "mysql://user:hunter2@db/x"})
    assert "hunter2" not in str(info.value)


def test_cli_exits_non_zero_with_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gold_platform.cli", "migrate"],
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": URL, "DATABASE_POOL_SIZE": "-1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "gold-platform: invalid configuration: DATABASE_POOL_SIZE=-1: must be between 1 and 500"
    ]
