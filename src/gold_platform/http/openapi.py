"""The OpenAPI 3.1 document: openapi.yaml, shipped in the package.

The file is the one source of the API contract. This module only reads it:
`document()` for /v1/openapi.json and the tests, `OPERATIONS` for routes.py
and the request validation (http/validation.py). Nothing in it is computed.
"""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

import yaml

DOCUMENT_FILE = "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _load() -> dict[str, Any]:
    text = resources.files(__package__).joinpath(DOCUMENT_FILE).read_text(encoding="utf-8")
    return yaml.safe_load(text)


_DOCUMENT = _load()


def document() -> dict[str, Any]:
    """A copy of the document (callers may change theirs)."""
    return copy.deepcopy(_DOCUMENT)


def resolve(node: Any, doc: dict[str, Any] = _DOCUMENT) -> Any:
    """Follow a local `$ref` ("#/components/...") to what it names."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


# (METHOD, path) -> operation, in the document's order.
OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    (method.upper(), path): operation
    for path, item in _DOCUMENT["paths"].items()
    for method, operation in item.items()
    if method in HTTP_METHODS
}

UUID_PATTERN: str = _DOCUMENT["components"]["schemas"]["Uuid"]["pattern"]
