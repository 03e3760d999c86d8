"""What the runtime ships: the gold-platform wheel (what the image installs)
holds the service, never the development tooling (devstack, postgres_binaries)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY = ("devstack", "postgres_binaries", "gold_devtools")


def _allowed_in_build_context() -> list[str]:
    """The allow-list of .containerignore: what the image build can see."""
    lines = (ROOT / ".containerignore").read_text().splitlines()
    return [line[1:].rstrip("/") for line in lines if line.startswith("!")]


def test_the_image_build_context_leaves_the_development_tooling_out():
    allowed = _allowed_in_build_context()
    assert "src" in allowed
    assert not any(entry.startswith("devtools") for entry in allowed), allowed
    # ...and src/ itself no longer holds any of it.
    leftovers = [p for p in (ROOT / "src").rglob("*.py") if p.stem in DEV_ONLY]
    assert leftovers == []


@pytest.mark.slow
def test_the_wheel_holds_the_service_and_no_development_tooling(tmp_path):
    # Built from what the Containerfile copies into its builder stage.
    context = tmp_path / "context"
    context.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, context / name)
    shutil.copytree(
        ROOT / "src", context / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), "."],
        cwd=context,
        check=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("gold_platform-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "gold_platform/app.py" in names
    assert "gold_platform/services/rates.py" in names
    assert {name.split("/")[0] for name in names if not name.startswith("gold_platform-")} == {
        "gold_platform"
    }
    shipped = [name for name in names if any(word in name for word in DEV_ONLY)]
    assert shipped == [], shipped
