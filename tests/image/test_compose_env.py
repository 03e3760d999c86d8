"""compose.yaml vs the service's settings (scripts/image/compose_env_check.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "scripts/image/compose_env_check.py"
sys.path.insert(0, str(CHECK.parent))
import compose_env_check  # noqa: E402


def _check(compose: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(CHECK),
            "--compose",
            str(compose),
            "--src",
            str(ROOT / "src/gold_platform"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_repository_compose_sets_only_variables_the_service_reads() -> None:
    result = _check(ROOT / "compose.yaml", "--validate")
    assert result.returncode == 0, result.stderr
    assert "backend:" in result.stdout and "migrate:" in result.stdout


def test_reads_cover_the_documented_settings() -> None:
    reads = compose_env_check.service_reads(ROOT / "src/gold_platform")
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "PORT",
        "OPERATOR_API_KEY",
        "LOG_FORMAT",
        "WEB_CONCURRENCY",
    ):
        assert name in reads, name
    assert "INR" not in reads  # a default value, not a variable name


def test_parser_recognises_each_way_of_reading() -> None:
    source = (
        "import os\n"
        "a = os.environ.get('A_ONE')\n"
        "b = os.environ['B_TWO']\n"
        "c = os.getenv('C_THREE', '1')\n"
        "os.environ.setdefault('D_FOUR', 'x')\n"
        "e = reader.get('E_FIVE', int, 3)\n"
        "f = {'NOT_ENV': 1}.get('NOT_ENV')\n"
        "g = settings.get('lowercase')\n"
    )
    assert compose_env_check.env_reads(source, "x.py") == {
        "A_ONE",
        "B_TWO",
        "C_THREE",
        "D_FOUR",
        "E_FIVE",
    }


@pytest.fixture
def drifted(tmp_path: Path) -> Path:
    text = (ROOT / "compose.yaml").read_text()
    assert "LOG_FORMAT: console\n" in text
    path = tmp_path / "compose.yaml"
    path.write_text(
        text.replace("LOG_FORMAT: console\n", 'LOG_FORMAT: console\n  DATABASE_POOL_MAX: "9"\n', 1)
    )
    return path


def test_an_unknown_variable_is_drift(drifted: Path) -> None:
    result = _check(drifted)
    assert result.returncode == 1
    assert "sets DATABASE_POOL_MAX, which the service never reads" in result.stderr


def test_a_value_the_service_rejects_fails_validation(tmp_path: Path) -> None:
    text = (ROOT / "compose.yaml").read_text()
    path = tmp_path / "compose.yaml"
    path.write_text(text.replace("LOG_FORMAT: console", "LOG_FORMAT: xml", 1))
    assert _check(path).returncode == 0  # names alone are fine
    result = _check(path, "--validate")
    assert result.returncode == 1
    assert "LOG_FORMAT=xml" in result.stderr


def test_missing_compose_file_is_bad_input(tmp_path: Path) -> None:
    result = _check(tmp_path / "absent.yaml")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
