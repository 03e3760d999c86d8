"""aiohttp's own protocol errors as problem+json.

A request that aiohttp's HTTP parser refuses (a URL or a header longer than
8190 bytes, a malformed request line) is answered before any middleware runs,
by `RequestHandler.handle_error`, as text/plain. aiohttp has no setting for
that answer; `ProblemAppRunner` makes its connections use a handler whose
`handle_error` answers a Problem instead. The gunicorn worker takes a runner
from the app factory it is given, and the dev server runs one itself.
"""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

from .problems import Problem, internal_error


def _problem(status: int, exc: BaseException | None) -> Problem:
    if status >= 500:
        return internal_error()
    if isinstance(exc, LineTooLong):
        detail = f"A line of the request (its URL or a header) is longer than {exc.args[1]} bytes."
    else:
        detail = "The request is not valid HTTP/1.1."
    slug = "bad-request" if status == 400 else f"http-{status}"
    return Problem(status, slug, HTTPStatus(status).phrase, detail)


class _ProblemRequestHandler(RequestHandler):
    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's logs the error and refuses when a response has already begun.
        super().handle_error(request, status, exc, message)
        response = _problem(status, exc).response()
        response.force_close()
        return response


class _ProblemServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class ProblemAppRunner(web.AppRunner):
    """An AppRunner whose connections answer protocol errors as problem+json."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return _ProblemServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )
