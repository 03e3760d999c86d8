"""Validation messages say, in words, what is wrong and what is expected: never
a regular expression, a Python repr, the value itself or a library hint."""

import pytest

from tests.api.conftest import OPERATOR

INTERNALS = ("^(", "does not match", "Decimal(", "is not of type", "sys.", "set_int_max")
AMOUNT = 'at most 2 decimal places, as a string such as "100.00"'


def assert_for_people(problem: dict) -> None:
    assert problem["type"].endswith("/validation-failed"), problem
    for error in problem["errors"]:
        assert not any(text in error["message"] for text in INTERNALS), error
        assert len(error["message"]) < 200, error


def trade(user_id: str, rate_id: str, raw_amount: str) -> bytes:
    return f'{{"user_id": "{user_id}", "rate_id": "{rate_id}", "amount": {raw_amount}}}'.encode()


@pytest.mark.parametrize(
    ("raw_amount", "message"),
    [
        ('"100.005"', f"must be an amount with at most 12 digits before the point and {AMOUNT}"),
        (
            "100.00",
            f"must be an amount with at most 12 digits before the point and {AMOUNT}, not a number",
        ),
        (
            "1" * 5000,
            f"must be an amount with at most 12 digits before the point and {AMOUNT}, not a number",
        ),
        (
            "1." + "0" * 5000,
            f"must be an amount with at most 12 digits before the point and {AMOUNT}, not a number",
        ),
        (
            "true",
            f"must be an amount with at most 12 digits before the point and {AMOUNT}, not true or false",
        ),
    ],
    ids=["three-decimals", "json-number", "5000-digit-integer", "5000-digit-decimal", "boolean"],
)
async def test_an_amount_error_says_what_is_expected(
    client, partner, rate, sql, raw_amount, message
):
    from tests.api.conftest import Api

    user = await Api(client).user(partner)
    response = await client.post(
        "/v1/transactions/buy",
        data=trade(user["id"], rate["rate_id"], raw_amount),
        headers={**partner.headers, "Content-Type": "application/json"},
    )
    problem = await response.json()
    assert response.status == 422, problem
    assert_for_people(problem)
    assert problem["errors"] == [{"field": "amount", "message": message}]
    assert sql("SELECT count(*) FROM transactions")[0][0] == 0


@pytest.mark.parametrize(
    ("path", "headers", "body", "field", "message"),
    [
        (
            "/v1/transactions/buy",
            None,
            {"user_id": "nope", "rate_id": "x", "grams": "1.00001"},
            "grams",
            "must be grams with at most 9 digits before the point and at most 4 decimal places,"
            ' as a string such as "0.5000"',
        ),
        (
            "/v1/transactions/buy",
            None,
            {"user_id": "nope", "rate_id": "x", "grams": "1.0"},
            "user_id",
            'must be a UUID, as a string such as "3fa85f64-5717-4562-b3fc-2c963f66afa6"',
        ),
        (
            "/v1/admin/rates",
            OPERATOR,
            {"buy_price": "10.00", "sell_price": "9.00", "tax_rate": "1.5"},
            "tax_rate",
            "must be a ratio from 0 up to (not including) 1 with at most 4 decimal places,"
            ' as a string such as "0.03"',
        ),
        (
            "/v1/admin/partners",
            OPERATOR,
            {"name": "x" * 201},
            "name",
            "must be at most 200 characters long",
        ),
        ("/v1/users", None, {"external_id": "a b"}, "external_id", None),
        ("/v1/users", None, ["external_id"], "(body)", "must be an object, not an array"),
    ],
)
async def test_other_fields_say_what_they_take(api, partner, path, headers, body, field, message):
    problem = await api.call(
        "POST", path, headers=headers or partner.headers, json=body, expect=422
    )
    assert_for_people(problem)
    errors = {e["field"]: e["message"] for e in problem["errors"]}
    assert field in errors, problem
    if message:
        assert errors[field] == message
    else:
        assert errors[field].startswith("must be "), errors


async def test_kyc_status_says_its_one_value(api, partner):
    user = await api.user(partner)
    problem = await api.call(
        "POST",
        f"/v1/users/{user['id']}/kyc",
        headers=partner.headers,
        json={"status": "done"},
        expect=422,
    )
    assert problem["errors"] == [{"field": "status", "message": 'must be the string "verified"'}]
