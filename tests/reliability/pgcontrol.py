"""A PostgreSQL server owned by one test, which the test may stop, freeze and restart.

Fault tests must not touch the suite's shared server, so each starts its own
with the binaries that PyPI's `pgserver` ships (the same ones
`gold_platform.devstack` uses). Unlike `devstack.postgres`, the port and the
data folder stay the same across `stop()` / `start()`, so a running service
sees "the database went away and came back" rather than a new server.

Only the processes started here are ever signalled, by PID: the postmaster,
and with `freeze()` / `thaw()` also the backends it forked.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gold_platform import devstack

STOP_TIMEOUT_SECONDS = 15


class ControlledPostgres:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data = workdir / "pgdata"
        self.port = devstack.free_port()
        self.bin_dir = devstack._postgres_bin()
        self.run_as = devstack._server_user()
        self.process: subprocess.Popen | None = None
        self.frozen = False

    @property
    def server_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str = devstack.DATABASE_NAME) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _init(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            shutil.chown(self.workdir, user=devstack.SERVER_USER)
            shutil.chown(self.data, user=devstack.SERVER_USER)
            devstack._make_traversable(self.workdir)
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                **self.run_as,
            )

    def start(self) -> float:
        """Start (or restart) on the same port and data folder; seconds until it accepts."""
        if self.running:
            raise RuntimeError("PostgreSQL is already running")
        started = time.monotonic()
        self._init()
        self.process = subprocess.Popen(
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.workdir),
                "-c",
                "fsync=off",
                "-c",
                "max_connections=300",
            ],
            stdout=open(self.workdir / "postgres.log", "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **self.run_as,
        )
        devstack._wait_for_port(self.port, self.process, "PostgreSQL")
        devstack._wait_accepting(self.bin_dir, self.port)
        subprocess.run(
            [
                str(self.bin_dir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                devstack.DATABASE_NAME,
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.monotonic() - started

    def stop(self, mode: str = "fast") -> float:
        """Stop the server we started: "fast" (SIGINT: roll back and disconnect
        every session) or "immediate" (SIGQUIT: like a crash). Returns seconds taken."""
        sig = {"fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode]
        if not self.running:
            return 0.0
        assert self.process is not None
        self.thaw()
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.monotonic() - started

    def _children(self) -> list[int]:
        """PIDs of the backends and helpers our postmaster forked (from /proc)."""
        assert self.process is not None
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:  # fields: state, ppid, ...
                children.append(int(stat.parent.name))
        return children

    def _signal_family(self, sig: int) -> None:
        # Every PostgreSQL child calls setsid(), so a process-group signal would
        # reach the postmaster only: signal each process we started, by PID.
        assert self.process is not None
        for pid in [self.process.pid, *self._children()]:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: a server that hangs, not one that refuses."""
        assert self.running
        self._signal_family(signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen and self.running:
            self._signal_family(signal.SIGCONT)
        self.frozen = False


@contextmanager
def controlled_postgres(workdir: Path) -> Iterator[ControlledPostgres]:
    server = ControlledPostgres(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
