"""structlog set-up: JSON lines in production, a readable console in development.

Standard-library logging (aiohttp, gunicorn, yoyo) is routed through the same
processors so that nothing reaches stdout as a bare traceback.
"""

from __future__ import annotations

import logging
import sys

import structlog

_SHARED_PROCESSORS: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class _StdoutHandler(logging.StreamHandler):
    """Writes to sys.stdout as it is at each record, not as it was at set-up
    (test capture and process managers may swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    if fmt == "json":
        renderer: structlog.typing.Processor = structlog.processors.JSONRenderer()
        exception_processors = [structlog.processors.dict_tracebacks]
    else:
        renderer = structlog.dev.ConsoleRenderer()
        exception_processors = []

    structlog.configure(
        processors=[
            *_SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exception_processors,
            renderer,
        ],
    )
    handler = _StdoutHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's own access log would duplicate the one line per request we emit.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # yoyo narrates every step of every migration; the summary line is ours.
    logging.getLogger("yoyo").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
