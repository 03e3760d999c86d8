"""RFC 9457 problem details: the one shape of every error response."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..domain.errors import DomainError, InvalidField

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://gold-platform.example/problems/"


@dataclass(eq=False)
class Problem(Exception):
    """Raise anywhere under a handler; the error middleware renders it."""

    status: int
    slug: str
    title: str
    detail: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail or self.title)

    @property
    def type(self) -> str:
        return TYPE_BASE + self.slug

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body

    def response(self, instance: str | None = None) -> web.Response:
        return problem_response(self.status, self.body(instance), self.headers)


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


def from_http_exception(exc: web.HTTPException) -> Problem:
    """Map aiohttp's own errors (404, 405, 413, ...) onto problem details."""
    slugs = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}
    headers = {}
    if exc.status == 405 and "Allow" in exc.headers:
        headers["Allow"] = exc.headers["Allow"]
    return Problem(
        status=exc.status,
        slug=slugs.get(exc.status, f"http-{exc.status}"),
        title=exc.reason,
        detail=exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else None,
        headers=headers,
    )


def not_found(what: str = "resource") -> Problem:
    return Problem(404, "not-found", "Not Found", f"The {what} does not exist.")


def validation_failed(errors: list[dict[str, str]], detail: str | None = None) -> Problem:
    return Problem(
        422,
        "validation-failed",
        "Request validation failed",
        detail or "One or more fields are invalid.",
        errors=errors,
    )


def internal_error() -> Problem:
    return Problem(500, "internal-error", "Internal Server Error", "An unexpected error occurred.")


def service_unavailable(detail: str) -> Problem:
    return Problem(
        503, "service-unavailable", "Service Unavailable", detail, headers={"Retry-After": "1"}
    )


# Domain rule -> (HTTP status, title). 409: conflicts with current state;
# 422: the request cannot be honoured as asked.
_DOMAIN_STATUS = {
    "domain-error": (422, "Request Refused"),
    "not-found": (404, "Not Found"),
    "rate-not-found": (422, "Unknown Rate"),
    "rate-expired": (409, "Rate Expired"),
    "below-minimum": (422, "Below Minimum"),
    "above-maximum": (422, "Above Maximum"),
    "insufficient-balance": (409, "Insufficient Balance"),
    "kyc-required": (422, "KYC Required"),
    "currency-mismatch": (422, "Currency Mismatch"),
    "transaction-expired": (409, "Transaction Expired"),
    "invalid-transition": (409, "Invalid Transition"),
    "idempotency-key-reused": (422, "Idempotency Key Reused"),
}


def domain_problem(error: DomainError) -> Problem:
    """A rule without a mapping of its own is refused as the base DomainError is, never a 500."""
    if isinstance(error, InvalidField):
        return validation_failed([{"field": error.field, "message": error.field_message}])
    status, title = _DOMAIN_STATUS.get(error.code, _DOMAIN_STATUS[DomainError.code])
    return Problem(status, error.code, title, error.message)
