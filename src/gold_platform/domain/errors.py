"""Rule violations, named by a stable code that the HTTP layer maps to a problem type."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """Missing, or owned by another partner: the two are indistinguishable by design."""

    code = "not-found"


class InvalidField(DomainError):
    """A figure a rule refuses, named by the field it came in: the HTTP layer
    answers it as a validation failure of that field (422 validation-failed)."""

    code = "validation-failed"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.field_message = message


class RateNotFound(DomainError):
    code = "rate-not-found"


class RateExpired(DomainError):
    code = "rate-expired"


class BelowMinimum(DomainError):
    code = "below-minimum"


class AboveMaximum(DomainError):
    code = "above-maximum"


class InsufficientBalance(DomainError):
    code = "insufficient-balance"


class KycRequired(DomainError):
    code = "kyc-required"


class TransactionExpired(DomainError):
    code = "transaction-expired"


class CurrencyMismatch(DomainError):
    code = "currency-mismatch"


class InvalidTransition(DomainError):
    code = "invalid-transition"


class IdempotencyKeyReused(DomainError):
    code = "idempotency-key-reused"
