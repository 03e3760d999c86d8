"""Request id, one log line per request, metrics, and problem+json errors."""

from __future__ import annotations

import re
import secrets
import time

import psycopg2
import structlog
from aiohttp import web

from ..domain.errors import DomainError
from ..observability.logs import get_logger
from ..observability.metrics import IN_FLIGHT, request_metrics
from .problems import (
    Problem,
    domain_problem,
    from_http_exception,
    internal_error,
    service_unavailable,
)

log = get_logger("gold_platform.access")
REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED_ROUTE = "<unmatched>"


def _route_template(request: web.Request) -> str:
    """The route pattern, never the raw path, so labels stay bounded."""
    resource = request.match_info.route.resource
    if resource is None:
        return UNMATCHED_ROUTE
    return resource.canonical


def _request_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _VALID_REQUEST_ID.match(given) else secrets.token_hex(16)


@web.middleware
async def observe(request: web.Request, handler) -> web.StreamResponse:
    """Outermost: binds the request id, times the request, logs and counts it."""
    request_id = _request_id(request)
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    IN_FLIGHT.inc()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
    finally:
        IN_FLIGHT.dec()
        elapsed = time.perf_counter() - started
        route = _route_template(request)
        requests, latency = request_metrics(request.method, route, status)
        requests.inc()
        latency.observe(elapsed)
        log.info(
            "request",
            method=request.method,
            route=route,
            path=request.path,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
        )
        structlog.contextvars.unbind_contextvars("request_id")


@web.middleware
async def problems(request: web.Request, handler) -> web.StreamResponse:
    """Turns every failure into RFC 9457 problem+json; details go to the log only."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem.response(request.path)
    except DomainError as error:
        return domain_problem(error).response(request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return from_http_exception(exc).response(request.path)
    except psycopg2.errors.QueryCanceled:  # an OperationalError: keep it first
        log.warning("statement_timeout")
        return service_unavailable("The request took too long; retry shortly.").response(
            request.path
        )
    except (psycopg2.OperationalError, psycopg2.InterfaceError, OSError, TimeoutError) as exc:
        # Database unreachable or too slow: fail fast, let the client retry.
        log.warning("dependency_unavailable", error=f"{type(exc).__name__}: {exc}".strip())
        return service_unavailable("A dependency is unavailable; retry shortly.").response(
            request.path
        )
    except Exception:
        log.exception("unhandled_error")
        return internal_error().response(request.path)
