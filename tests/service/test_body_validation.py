"""The fast body check (jsonschema_rs) only skips work: for any body, valid or
not, a request's body errors are exactly those jsonschema alone would give."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gold_platform.http import validation
from gold_platform.http.openapi import document


def body_schemas() -> dict[str, dict]:
    found = {}
    for operations in document()["paths"].values():
        for operation in operations.values():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                found[operation["operationId"]] = validation.inline(
                    content["application/json"]["schema"]
                )
    return found


SCHEMAS = body_schemas()


def documented(schema: dict) -> st.SearchStrategy[Any]:
    """Bodies the schema's own examples make: valid ones, and, with fields
    dropped, near misses."""
    if "oneOf" in schema:
        return st.one_of([documented(branch) for branch in schema["oneOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if schema.get("type") == "object":
        fields = {name: documented(sub) for name, sub in schema.get("properties", {}).items()}
        return st.fixed_dictionaries({}, optional=fields)
    return st.sampled_from(schema["examples"])


def strings_like(schema: dict) -> st.SearchStrategy[str]:
    """Strings a pattern nearly takes: matches, with a trailing newline, with
    other digits (Arabic-Indic), surrogates or anything at all."""
    if "pattern" not in schema:
        return st.text(max_size=300)
    match = st.from_regex(schema["pattern"], fullmatch=True)
    return st.one_of(
        match,
        match.map(lambda s: s + "\n"),
        match.map(lambda s: s.replace("1", "\u0661")),
        st.text(alphabet=st.characters(codec=None, categories=None), max_size=20),
    )


def anything() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(), st.decimals(allow_nan=False), st.text(max_size=10)
    )
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5)


def mutated(schema: dict) -> st.SearchStrategy[Any]:
    """A documented body with one field replaced, added, or the whole body swapped."""
    properties = {
        name: sub
        for branch in schema.get("oneOf", [schema])
        for name, sub in branch.get("properties", {}).items()
    }

    def replace(body: Any, draw) -> Any:
        if not isinstance(body, dict):
            return body
        name = draw(st.sampled_from([*properties, "unknown"]))
        value = draw(st.one_of(strings_like(properties.get(name, {})), anything()))
        return {**body, name: value}

    return st.one_of(
        documented(schema),
        st.builds(lambda body, seed: replace(body, seed.draw), documented(schema), st.data()),
        anything(),
    )


def old_errors(schema: dict, body: Any) -> list[dict[str, str]]:
    """What validation gave before the fast check: jsonschema for every body."""
    from jsonschema import Draft202012Validator

    found = validation._field_errors(Draft202012Validator(schema).iter_errors(body))
    return found or validation._unstorable_strings(body)


@pytest.mark.parametrize("operation", sorted(SCHEMAS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_fast_check_never_changes_a_bodys_errors(operation: str, data) -> None:
    schema = SCHEMAS[operation]
    body = data.draw(mutated(schema))
    checked = validation.BodySchema(schema)
    assert (checked.field_errors(body) or validation._unstorable_strings(body)) == old_errors(
        schema, body
    )


def complete(schema: dict) -> list[Any]:
    """One valid body per alternative: every required field, its first example."""
    if "oneOf" in schema:
        return [body for branch in schema["oneOf"] for body in complete(branch)]
    if "const" in schema:
        return [schema["const"]]
    if schema.get("type") == "object":
        properties = schema["properties"]
        return [{name: complete(properties[name])[0] for name in schema.get("required", [])}]
    return [schema["examples"][0]]


@pytest.mark.parametrize("operation", sorted(SCHEMAS))
def test_a_valid_body_is_answered_by_the_fast_check(operation: str) -> None:
    """Valid bodies must not fall through to jsonschema, or the check saves nothing."""
    schema = SCHEMAS[operation]
    for body in complete(schema):
        assert old_errors(schema, body) == []
        assert validation.BodySchema(schema)._is_valid(body), body


def test_a_number_where_a_string_is_due_is_worded_by_jsonschema() -> None:
    schema = SCHEMAS["verifyBuy"]
    body = {**complete(schema)[0], "amount": Decimal("100.00")}
    errors = validation.BodySchema(schema).field_errors(body)
    assert errors == old_errors(schema, body)
    assert [error["field"] for error in errors] == ["amount"]
