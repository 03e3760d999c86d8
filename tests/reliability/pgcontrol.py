"""A PostgreSQL server owned by one test, which the test may stop, freeze and restart.

Fault tests must not touch the suite's shared server, so each starts its own
through `gold_devtools.devstack` (the same pinned binaries and major as the
suite's). Unlike `devstack.postgres`, the port and the data folder stay the
same across `stop()` / `start()`, so a running service sees "the database
went away and came back" rather than a new server.

Only the processes started here are ever signalled, by PID: the postmaster,
and with `freeze()` / `thaw()` also the backends it forked.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gold_devtools import devstack


class ControlledPostgres(devstack.PostgresServer):
    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.frozen = False

    @property
    def server_url(self) -> str:
        return self.url("postgres")

    def stop(self, mode: str = "fast") -> float:
        """Stop the server we started: "fast" (SIGINT: roll back and disconnect
        every session) or "immediate" (SIGQUIT: like a crash). Returns seconds taken."""
        if not self.running:
            return 0.0
        self.thaw()
        return super().stop({"fast": signal.SIGINT, "immediate": signal.SIGQUIT}[mode])

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
    try:
        server.start()
        yield server
    finally:
        server.remove()
