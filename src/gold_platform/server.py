"""Process runners: gunicorn for production, an auto-reloading server for development."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger

from .settings import Settings

DEFAULT_METRICS_DIR = "/tmp/gold-platform-metrics"
KEEPALIVE_SECONDS = 75


class _StructlogGunicornLogger(GunicornLogger):
    """Sends gunicorn's own messages through the root (structlog) handler."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True


def _child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class _Gunicorn(BaseApplication):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self._settings
        for key, value in {
            "bind": f"{s.host}:{s.port}",
            "workers": s.web_concurrency,
            "worker_class": "aiohttp.GunicornWebWorker",
            # On SIGTERM a worker stops accepting and gets this long for in-flight requests.
            "graceful_timeout": s.graceful_timeout_seconds,
            "timeout": 30,
            "keepalive": KEEPALIVE_SECONDS,
            "logger_class": _StructlogGunicornLogger,
            "accesslog": None,
            "child_exit": _child_exit,
            "proc_name": "gold-platform",
            # Each worker listens on a socket of its own (SO_REUSEPORT) and the
            # kernel spreads new connections over them. On one shared socket,
            # the first worker to wake accepts every waiting connection (aiohttp
            # takes up to 128 at a time), and keep-alive clients such as an
            # ingress stay on it: 2 workers split 64 connections 14/50 and 32
            # as 32/0 in `make bench`. See docs/benchmarks.md.
            "reuse_port": True,
            "worker_tmp_dir": "/tmp",
            # Import and build the app once in the master; workers fork ready to
            # serve. Pools and clients open per worker, in cleanup_ctx, after fork.
            # The metrics socket is bound there too (once: see with_metrics).
            "preload_app": True,
        }.items():
            self.cfg.set(key, value)
        # gunicorn >= 25 opens a control socket under $HOME: nothing uses it, and
        # the root filesystem is read-only in the container.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self):
        """The app, built once in the master, and the factory each worker calls
        for its runner (aiohttp's worker takes one: it is how protocol errors
        become problem+json there too)."""
        from .app import create_app

        app = with_metrics(create_app(self._settings), self._settings)

        async def runner() -> web.AppRunner:
            return problem_runner(app, self._settings)

        # What the master built lives as long as the workers: out of the
        # collector's sight, a full collection need not walk it (shorter pauses),
        # and the forked pages it sits in stay shared.
        gc.freeze()
        return runner


def problem_runner(app: web.Application, settings: Settings, **kwargs) -> web.AppRunner:
    """What aiohttp's gunicorn worker would build, answering protocol errors as problems."""
    from .http.protocol import ProblemAppRunner

    return ProblemAppRunner(
        app,
        keepalive_timeout=KEEPALIVE_SECONDS,
        # as the worker does: leave gunicorn's graceful timeout a margin
        shutdown_timeout=settings.graceful_timeout_seconds / 100 * 95,
        access_log=None,
        **kwargs,
    )


def with_metrics(app: web.Application, settings: Settings) -> web.Application:
    """Binds METRICS_HOST:METRICS_PORT now and serves /metrics there while `app` runs.

    Under gunicorn this runs in the master (preload_app), so the workers inherit
    one listening socket, as they do the API's, and whichever worker accepts a
    scrape answers for all of them (multiprocess collector).
    """
    from .observability.metrics import bind_metrics_socket, serve_metrics

    sock = _bind_or_exit(
        "metrics",
        settings.metrics_host,
        settings.metrics_port,
        "METRICS_HOST, METRICS_PORT",
        bind_metrics_socket,
    )
    # First in, last out: scrapes keep working while the pool closes on shutdown.
    app.cleanup_ctx.insert(0, serve_metrics(sock))
    return app


def _bind_or_exit(
    what: str, host: str, port: int, variables: str, bind: Callable[[str, int], socket.socket]
) -> socket.socket:
    try:
        return bind(host, port)
    except OSError as exc:
        raise SystemExit(
            f"gold-platform: cannot serve {what} on {host}:{port} ({variables}): "
            f"{os.strerror(exc.errno) if exc.errno else exc}"
        ) from None


def _check_api_port_is_free(settings: Settings) -> None:
    """Workers bind the API port themselves (reuse_port), and a socket with
    SO_REUSEPORT would quietly share a port another such server holds; a plain
    socket is refused instead, so try one first and stop with one line."""
    _bind_or_exit(
        "the API",
        settings.host,
        settings.port,
        "HOST, PORT",
        lambda h, p: socket.create_server((h, p)),
    ).close()


def prepare_metrics_dir() -> None:
    """Multiprocess metrics need an empty shared folder before workers start."""
    path = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", DEFAULT_METRICS_DIR))
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def serve(settings: Settings) -> None:
    from .observability.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    _check_api_port_is_free(settings)
    _Gunicorn(settings).run()


async def _serve_until_signalled(app: web.Application, settings: Settings) -> None:
    runner = problem_runner(app, settings, handle_signals=True)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        print(  # once bound, after each reload
            f"metrics on http://{settings.metrics_host}:{settings.metrics_port}/metrics\n"
            f"listening on http://{settings.host}:{settings.port}",
            flush=True,
        )
        await asyncio.Event().wait()  # SIGINT or SIGTERM ends it (GracefulExit)
    finally:
        await runner.cleanup()


def _run_dev_app() -> None:
    from .app import create_app

    settings = Settings.from_env()
    app = with_metrics(create_app(settings), settings)
    with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(_serve_until_signalled(app, settings))


def serve_dev(settings: Settings) -> None:
    """One process, restarted whenever a file under the package changes."""
    from watchfiles import run_process

    run_process(Path(__file__).parent, target=_run_dev_app)
