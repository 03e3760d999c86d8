"""Requests validated against the OpenAPI document, generically.

Each operation's path, query and header parameters and its JSON body are
checked against the schemas openapi.yaml gives them: there is no per-route
parser. routes.py wraps every handler with `validated(operation, handler)`;
the handler finds the values, typed, in `request[VALIDATED]`.

Order: the operation's role (x-role: 403), path parameters (a malformed id
is a missing one: 404, never a database error), the body's media type (415)
and JSON (400), then every query, header and body error in one 422.
Messages are for people: "x-expected" where the document gives one, never
a regular expression or the value itself. Header values must be printable,
and no value a pattern checks may hold a control character.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator, ValidationError

from .auth import authorize
from .openapi import document, resolve
from .problems import Problem, validation_failed

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_DOCUMENT = document()
# NUL cannot be stored at all; other control characters (a trailing newline
# slips past a `$`-anchored pattern) have no place in any field of this API.
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_INTEGER = re.compile("-?[0-9]+")


# Keywords that say nothing about validity: a $ref beside only these is
# replaced by what it names, with them on top.
_ANNOTATIONS = {"description", "title", "examples", "default", "x-expected"}


def inline(node: Any, doc: dict[str, Any] = _DOCUMENT, seen: tuple[str, ...] = ()) -> Any:
    """`node` with every local $ref replaced by what it names, once, when the
    validators are compiled: nothing is looked up per request."""
    if isinstance(node, list):
        return [inline(item, doc, seen) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise ValueError(f"recursive $ref {ref}: not supported")
        target = inline(resolve({"$ref": ref}, doc), doc, (*seen, ref))
        siblings = {k: inline(v, doc, seen) for k, v in node.items() if k != "$ref"}
        if siblings.keys() <= _ANNOTATIONS:
            return {**target, **siblings}
        return {"allOf": [target], **siblings}
    return {k: inline(v, doc, seen) for k, v in node.items()}


@dataclass(frozen=True, slots=True)
class Validated:
    path: dict[str, Any]
    query: dict[str, Any]
    header: dict[str, Any]
    body: Any


VALIDATED = web.RequestKey("validated", Validated)


class _Invalid(Exception):
    pass


# What a parameter's schema may say for the quick checks below; a schema
# with any other keyword is checked by jsonschema as well.
_PARAMETER_KEYWORDS = {
    "type",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "format",
    *_ANNOTATIONS,
}


class _Parameter:
    """One parameter, its schema's checks compiled: a value is a string, and
    few keywords apply to it, so jsonschema is only the fallback."""

    __slots__ = ("_enum", "_pattern", "_validator", "location", "name", "required", "schema")

    def __init__(self, name: str, location: str, required: bool, schema: dict) -> None:
        self.name, self.location, self.required, self.schema = name, location, required, schema
        self._pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
        self._enum = frozenset(schema["enum"]) if "enum" in schema else None
        self._validator = (
            None if schema.keys() <= _PARAMETER_KEYWORDS else Draft202012Validator(schema)
        )

    def _valid(self, value: Any) -> bool:
        schema = self.schema
        if self._enum is not None and value not in self._enum:
            return False
        if isinstance(value, str):
            if schema.get("type", "string") != "string":
                return False
            if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
                return False
            if self._pattern is not None and not self._pattern.search(value):
                return False
        elif not schema.get("minimum", value) <= value <= schema.get("maximum", value):
            return False
        return self._validator is None or self._validator.is_valid(value)

    def value(self, raw: str) -> Any:
        """The typed value of a raw string, or _Invalid."""
        schema = self.schema
        value: Any = raw
        if "pattern" in schema and _CONTROL.search(raw):
            raise _Invalid  # a `$`-anchored pattern lets a trailing newline through
        if self.location == "header" and not raw.isprintable():
            raise _Invalid
        if schema.get("type") == "integer":
            if not (raw.isascii() and _INTEGER.fullmatch(raw)):
                raise _Invalid
            try:
                value = int(raw)
            except ValueError:  # more digits than int() takes
                raise _Invalid from None
        if not self._valid(value):
            raise _Invalid
        if schema.get("format") == "date-time":
            try:
                moment = datetime.fromisoformat(raw)
            except ValueError:
                raise _Invalid from None
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return value

    def message(self) -> str:
        schema = self.schema
        if "x-expected" in schema:
            return f"must be {schema['x-expected']}"
        if "enum" in schema:
            return "one of " + ", ".join(schema["enum"])
        if schema.get("type") == "integer" and {"minimum", "maximum"} <= schema.keys():
            return f"an integer from {schema['minimum']} to {schema['maximum']}"
        if schema.get("format") == "date-time":
            return "must be an ISO 8601 date-time"
        if self.location == "header" and {"minLength", "maxLength"} <= schema.keys():
            return f"{schema['minLength']} to {schema['maxLength']} printable characters"
        return "is not valid here"


def _parameters(operation: dict) -> list[_Parameter]:
    found = []
    for entry in operation.get("parameters", []):
        parameter = resolve(entry, _DOCUMENT)
        found.append(
            _Parameter(
                parameter["name"],
                parameter["in"],
                parameter.get("required", False),
                inline(parameter["schema"]),
            )
        )
    return found


class OperationValidator:
    """Everything one operation's request must satisfy, compiled once."""

    def __init__(self, method: str, path: str, operation: dict) -> None:
        self.operation_id = operation["operationId"]
        self.role = operation.get("x-role", "any")
        parameters = _parameters(operation)
        self.path = [p for p in parameters if p.location == "path"]
        self.query = [p for p in parameters if p.location == "query"]
        self.header = [p for p in parameters if p.location == "header"]
        content = operation.get("requestBody", {}).get("content", {})
        self.body = (
            Draft202012Validator(inline(content["application/json"]["schema"]))
            if "application/json" in content
            else None
        )

    async def __call__(self, request: web.Request) -> Validated:
        path = {}
        for parameter in self.path:
            try:
                path[parameter.name] = parameter.value(request.match_info[parameter.name])
            except _Invalid:
                what = parameter.name.removesuffix("_id").replace("_", " ")
                raise Problem(
                    404, "not-found", "Not Found", f"The {what} does not exist."
                ) from None
        body = await _json_body(request) if self.body is not None else None
        errors: list[dict[str, str]] = []
        query = _values(self.query, request.query, errors)
        header = _values(self.header, request.headers, errors)
        if self.body is not None:
            errors += _field_errors(self.body.iter_errors(body)) or _unstorable_strings(body)
        if errors:
            raise validation_failed(errors)
        return Validated(path, query, header, body)


def _values(parameters: list[_Parameter], given, errors: list[dict[str, str]]) -> dict[str, Any]:
    values = {}
    for parameter in parameters:
        raw = given.get(parameter.name)
        if raw is None:
            if parameter.required:
                errors.append({"field": parameter.name, "message": "is required"})
            else:
                values[parameter.name] = parameter.schema.get("default")
            continue
        try:
            values[parameter.name] = parameter.value(raw)
        except _Invalid:
            errors.append({"field": parameter.name, "message": parameter.message()})
    return values


def validated(method: str, path: str, operation: dict, handler: Handler) -> Handler:
    """`handler`, called once its request is what `operation` documents."""
    check = OperationValidator(method, path, operation)

    async def validating(request: web.Request) -> web.StreamResponse:
        authorize(request, check.role)
        request[VALIDATED] = await check(request)
        return await handler(request)

    validating.__name__ = getattr(handler, "__name__", check.operation_id)
    validating.__doc__ = handler.__doc__
    return validating


# ------------------------------------------------------------------ bodies --


async def _json_body(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported Media Type",
            "Send the body as application/json.",
        )
    raw = await request.read()  # bounded by client_max_size (MAX_BODY_BYTES): 413 beyond
    try:
        return _DECODER.decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # RecursionError: absurdly deep nesting ([[[[...) is malformed input, not a crash.
        raise Problem(
            400, "malformed-json", "Malformed JSON", f"The body is not valid JSON: {exc}"
        ) from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


# Built once: json.loads with hooks builds a decoder per call. Integers as
# Decimal too: int() refuses more than 4,300 digits with a message about
# sys.set_int_max_str_digits(); Decimal takes any length.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)


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


def _field(error: ValidationError, name: str | None = None) -> str:
    parts = [str(p) for p in error.absolute_path] + ([name] if name is not None else [])
    return "/".join(parts)


def _field_errors(errors: Iterable[ValidationError]) -> list[dict[str, str]]:
    found = []
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            found += [{"field": _field(error, name), "message": "unknown field"} for name in extra]
        elif error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else None
            found.append({"field": _field(error, missing), "message": "is required"})
        elif error.validator == "oneOf":
            found += _one_of_errors(error)
        else:
            found.append({"field": _field(error) or "(body)", "message": _message(error)})
    return found


def _one_of_errors(error: ValidationError) -> list[dict[str, str]]:
    """The alternatives of a oneOf are told apart by the properties only one of
    them requires (a trade's amount or grams): when the body has exactly one
    alternative's, its errors are the body's; otherwise, say which to give."""
    branches = [resolve(branch, _DOCUMENT) for branch in error.validator_value]
    required = [set(branch.get("required", ())) for branch in branches]
    common = set.intersection(*required) if required else set()
    own = [r - common for r in required]
    choices = [p for branch in branches for p in branch.get("required", ()) if p not in common]
    chosen = None
    if not isinstance(error.instance, dict):
        chosen = 0  # not even an object: the first alternative says what it must be
    else:
        given = set(error.instance) & set(choices)
        matching = [i for i, props in enumerate(own) if props == given]
        chosen = matching[0] if len(matching) == 1 else None
    if chosen is None:
        return [
            {
                "field": _field(error, "|".join(choices)),
                "message": "give exactly one of " + " or ".join(choices),
            }
        ]
    return _field_errors(e for e in error.context if e.relative_schema_path[0] == chosen)


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
