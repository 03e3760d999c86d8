"""What handlers share once a request is validated (http/validation.py):
a few rules no schema states."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

from .problems import validation_failed

# Letters, marks, digits, punctuation and symbols; not separators (spaces),
# controls, formats (zero-width characters), surrogates or unassigned code points.
_INVISIBLE_CATEGORIES = ("Z", "C")


def visible(text: str) -> bool:
    """True when `text` shows at least one character, so a person can read it."""
    return any(unicodedata.category(c)[0] not in _INVISIBLE_CATEGORIES for c in text)


def positive(body: dict, field: str) -> Decimal | None:
    """A schema-checked decimal string that must also be greater than zero."""
    if field not in body:
        return None
    value = Decimal(body[field])
    if value <= 0:
        raise validation_failed([{"field": field, "message": "must be greater than 0"}])
    return value
