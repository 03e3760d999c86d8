"""Request parsing: JSON bodies validated against the published schemas."""

from __future__ import annotations

import json
import re
import unicodedata
from decimal import Decimal
from typing import Any

from aiohttp import web
from jsonschema import ValidationError

from .openapi import UUID_PATTERN, VALIDATORS
from .problems import Problem, validation_failed

_UUID = re.compile(UUID_PATTERN)
# NUL cannot be stored at all; other control characters (a trailing newline
# slips past a `$`-anchored pattern) have no place in any field of this API.
_CONTROL = re.compile("[\x00-\x1f\x7f]")


_JSON_TYPES = {
    str: "a string",
    bool: "true or false",
    Decimal: "a number",
    dict: "an object",
    list: "an array",
    type(None): "null",
}
_SCHEMA_TYPES = {"object": "an object", "string": "a string"}


def _message(error: ValidationError) -> str:
    """What is wrong and what is expected, in words: never the value itself
    (it may be 5,000 digits long) nor a regular expression."""
    expected = error.schema.get("x-expected")
    given = _JSON_TYPES.get(type(error.instance), "another type")
    match error.validator:
        case "type" if expected:
            return f"must be {expected}, not {given}"
        case "type":
            return (
                f"must be {_SCHEMA_TYPES.get(error.validator_value, 'another type')}, not {given}"
            )
        case "pattern" | "const" if expected:
            return f"must be {expected}"
        case "minLength":
            return f"must be at least {error.validator_value} characters long"
        case "maxLength":
            return f"must be at most {error.validator_value} characters long"
    return "is not valid here"


def _field_errors(schema_name: str, body: Any) -> list[dict[str, str]]:
    errors = []
    for error in sorted(VALIDATORS[schema_name].iter_errors(body), key=lambda e: list(e.path)):
        path = "/".join(str(p) for p in error.path)
        if error.validator == "additionalProperties":
            extra = sorted(set(body) - set(error.schema.get("properties", {})))
            errors += [{"field": name, "message": "unknown field"} for name in extra]
        elif error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else path
            errors.append({"field": missing, "message": "is required"})
        elif error.validator == "oneOf" and not path:
            errors.append(
                {"field": "amount|grams", "message": "give exactly one of amount or grams"}
            )
        else:
            errors.append({"field": path or "(body)", "message": _message(error)})
    return errors


async def json_body(request: web.Request, schema_name: str) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported Media Type",
            "Send the body as application/json.",
        )
    raw = await request.read()  # bounded by client_max_size (MAX_BODY_BYTES): 413 beyond
    try:
        # Integers as Decimal too: int() refuses more than 4,300 digits with a
        # message about sys.set_int_max_str_digits(); Decimal takes any length.
        body = json.loads(
            raw.decode("utf-8"),
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # RecursionError: absurdly deep nesting ([[[[...) is malformed input, not a crash.
        raise Problem(
            400, "malformed-json", "Malformed JSON", f"The body is not valid JSON: {exc}"
        ) from None
    errors = _field_errors(schema_name, body) or _unstorable_strings(body)
    if errors:
        raise validation_failed(errors)
    return body


def _unstorable_strings(body: Any, path: str = "") -> list[dict[str, str]]:
    """Refuse, as field errors, what cannot or should not be stored: lone
    surrogates (JSON's "\\ud800", not encodable as UTF-8) and control characters."""
    if isinstance(body, dict):
        return [
            e for k, v in body.items() for e in _unstorable_strings(v, f"{path}/{k}".lstrip("/"))
        ]
    if isinstance(body, list):
        return [
            e for i, v in enumerate(body) for e in _unstorable_strings(v, f"{path}/{i}".lstrip("/"))
        ]
    if isinstance(body, str):
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            return [{"field": path, "message": "contains an unpaired surrogate"}]
        if _CONTROL.search(body):
            return [{"field": path, "message": "contains a control character"}]
    return []


# Letters, marks, digits, punctuation and symbols; not separators (spaces),
# controls, formats (zero-width characters), surrogates or unassigned code points.
_INVISIBLE_CATEGORIES = ("Z", "C")


def visible(text: str) -> bool:
    """True when `text` shows at least one character, so a person can read it."""
    return any(unicodedata.category(c)[0] not in _INVISIBLE_CATEGORIES for c in text)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def positive(body: dict, field: str) -> Decimal | None:
    """A schema-checked decimal string that must also be greater than zero."""
    if field not in body:
        return None
    value = Decimal(body[field])
    if value <= 0:
        raise validation_failed([{"field": field, "message": "must be greater than 0"}])
    return value


def path_id(request: web.Request, name: str, what: str) -> str:
    """A malformed id is a missing one: 404, never a database error."""
    value = request.match_info[name]
    if not _UUID.fullmatch(value):
        raise Problem(404, "not-found", "Not Found", f"The {what} does not exist.")
    return value.lower()
