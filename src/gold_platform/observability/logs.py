"""structlog set-up: JSON lines in production, a readable console in development.

The service's own events (one per request) take structlog's direct path:
filtered by level before any work, rendered once, written to stdout. Standard
library logging (aiohttp, gunicorn, yoyo) is routed through the same
processors by a formatter, so nothing reaches stdout as a bare traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

_SHARED_PROCESSORS: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
]


def _utc_now(
    _logger: object, _method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The time as a datetime: orjson writes it as ISO 8601 in C ("...Z")."""
    event_dict["timestamp"] = datetime.now(UTC)
    return event_dict


def _orjson_dumps(obj: Any, default: Any = None, **_ignored: Any) -> str:
    """structlog's serializer: orjson, about ten times faster than json.dumps
    on a log line. What orjson refuses (an integer past 64 bits) is written by
    json.dumps instead; a type neither knows goes through structlog's fallback."""
    try:
        return orjson.dumps(obj, default=default, option=orjson.OPT_UTC_Z).decode()
    except orjson.JSONEncodeError:
        return json.dumps(obj, default=lambda value: _json_safe(value, default))


def _json_safe(value: Any, default: Any) -> Any:
    return (
        value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else default(value)
    )


class _StdoutLogger:
    """structlog's final sink: one line to sys.stdout as it is at each event
    (test capture and process managers may swap it)."""

    def __init__(self, name: str = "") -> None:
        self.name = name

    def msg(self, message: str) -> None:
        sys.stdout.write(message + "\n")
        sys.stdout.flush()

    debug = info = warning = warn = error = critical = exception = fatal = msg


def _add_logger_name(
    logger: _StdoutLogger, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    event_dict["logger"] = logger.name
    return event_dict


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
        timestamper: structlog.typing.Processor = _utc_now
        renderer: structlog.typing.Processor = structlog.processors.JSONRenderer(
            serializer=_orjson_dumps
        )
        # show_locals=False: a frame's locals may hold settings, keys or URLs with passwords.
        exception_processors = [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        ]
    else:
        timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
        exception_processors = []

    structlog.configure(
        processors=[
            *_SHARED_PROCESSORS,
            timestamper,
            _add_logger_name,
            *exception_processors,
            renderer,
        ],
        logger_factory=_StdoutLogger,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED_PROCESSORS, timestamper, structlog.stdlib.add_logger_name],
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


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
