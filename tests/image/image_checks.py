"""Checks on the built production image (its runtime stage).

Run by `make image-smoke` right after it builds the image:

    SMOKE_IMAGE=localhost/gold-platform:smoke pytest tests/image/image_checks.py

The file name does not match `test_*.py` on purpose: `make test` does not
collect it (it needs podman and an image built by `make image-smoke`). When
the image is missing these checks FAIL with a message saying how to build it;
they never skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("SMOKE_IMAGE", "localhost/gold-platform:smoke")

# Compiler drivers and the compiler proper, by file name (glob patterns).
COMPILER_PATTERNS = [
    "gcc",
    "gcc-[0-9]*",
    "cc",
    "c++",
    "g++",
    "g++-[0-9]*",
    "cpp",
    "cpp-[0-9]*",
    "clang",
    "clang-[0-9]*",
    "clang++",
    "tcc",
    "cc1",
    "cc1plus",
    "*-linux-gnu-gcc*",
    "*-linux-gnu-g++*",
    "*-linux-gnu-cpp*",
    "*-linux-gnu-as",
    "*-linux-gnu-ld",
    "*-linux-gnu-ld.*",
]


def _podman_env() -> dict[str, str]:
    """The project's podman configuration (scripts/image/env.sh sets the same)."""
    env = dict(os.environ)
    state = Path(os.environ.get("IMAGE_STATE_DIR", ROOT / ".state"))
    env.setdefault("CONTAINERS_CONF", str(ROOT / "scripts/image/containers.conf"))
    env.setdefault("CONTAINERS_REGISTRIES_CONF", str(ROOT / "scripts/image/registries.conf"))
    storage = state / "containers/storage.conf"
    if storage.is_file():
        env.setdefault("CONTAINERS_STORAGE_CONF", str(storage))
    return env


def _podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], env=_podman_env(), capture_output=True, text=True, check=check
    )


def _in_image(*command: str, root: bool = False) -> str:
    """Run COMMAND in a throwaway container of the image (no network); its stdout."""
    user = ["--user=0"] if root else []
    flags = ["--rm", "--pull=never", "--network=none", "--entrypoint=", *user]
    return _podman("run", *flags, IMAGE, *command).stdout


@pytest.fixture(scope="module")
def image_config() -> dict:
    if shutil.which("podman") is None:
        pytest.fail(
            "podman is not installed: run `make image-smoke` (it installs it and builds the image)"
        )
    found = _podman("image", "exists", IMAGE, check=False)
    if found.returncode != 0:
        pytest.fail(f"image {IMAGE} not found: build it with `make image-smoke`")
    inspected = json.loads(_podman("image", "inspect", IMAGE).stdout)[0]
    config = dict(inspected["Config"])
    # podman reports the docker-format HEALTHCHECK beside Config, not in it.
    config.setdefault("Healthcheck", inspected.get("Healthcheck"))
    return config


def _find(patterns: list[str]) -> list[str]:
    """Executable files and symlinks in the image whose name matches a pattern."""
    expr: list[str] = []
    for pattern in patterns:
        expr += (["-o"] if expr else []) + ["-name", pattern]
    kinds = ["(", "-type", "f", "-perm", "/111", "-o", "-type", "l", ")"]
    script = ["find", "/", "-xdev", *kinds, "(", *expr, ")", "-print"]
    return sorted(line for line in _in_image(*script, root=True).splitlines() if line)


def test_runs_as_uid_and_gid_1000(image_config: dict) -> None:
    assert image_config.get("User") == "1000:1000"


def test_user_1000_is_appuser(image_config: dict) -> None:
    assert _in_image("getent", "passwd", "1000").split(":")[0] == "appuser"


def test_scan_finds_files_at_all(image_config: dict) -> None:
    """Control for the compiler scan: the same search finds the interpreter."""
    assert any(path.endswith("/python3") for path in _find(["python3"]))


def test_no_compiler_in_runtime_stage(image_config: dict) -> None:
    found = _find(COMPILER_PATTERNS)
    assert found == [], f"compilers/toolchain in the runtime image: {found}"


# Debian packages that carry a compiler, assembler or linker (gcc-12-base,
# a runtime dependency of libgcc-s1 with no binaries, does not match).
TOOLCHAIN_PACKAGE = re.compile(
    r"^((gcc|g\+\+|cpp|clang|llvm)(-\d+)?(-[a-z0-9_]+-linux-gnu)?"
    r"|binutils(-.+)?|build-essential|libc6-dev|tcc)(:.+)?$"
)


def test_no_toolchain_package_installed(image_config: dict) -> None:
    installed = _in_image("dpkg-query", "-W", "-f", "${Package}\\n").split()
    assert "python3" in installed  # control: the query sees the packages
    toolchain = [pkg for pkg in installed if TOOLCHAIN_PACKAGE.match(pkg)]
    assert toolchain == [], f"toolchain packages in the runtime image: {toolchain}"


def test_no_pip_no_caches_no_sources(image_config: dict) -> None:
    listing = _in_image(
        "sh",
        "-c",
        "ls -d /opt/venv/bin/pip* /root/.cache /tmp/.cache /src"
        " /opt/venv/lib/python3*/site-packages/gold_platform/tests 2>/dev/null; true",
        root=True,
    )
    assert listing.split() == []


def test_healthcheck_and_default_command(image_config: dict) -> None:
    health = image_config.get("Healthcheck") or {}
    assert health.get("Test") == ["CMD", "gold-platform", "healthcheck"], (
        "HEALTHCHECK missing: podman must build with --format docker"
    )
    assert image_config.get("Cmd") == ["gold-platform", "serve"]
    assert {"8080/tcp", "9090/tcp"} <= set(image_config.get("ExposedPorts") or {})


def test_environment(image_config: dict) -> None:
    env = dict(item.split("=", 1) for item in image_config.get("Env", []))
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    # The scraper reaches the metrics listener from outside the container.
    assert env["METRICS_HOST"] == "0.0.0.0"


def test_oci_labels(image_config: dict) -> None:
    labels = image_config.get("Labels") or {}
    for key in ("source", "revision", "version", "created"):
        assert labels.get(f"org.opencontainers.image.{key}"), f"label {key} missing"
