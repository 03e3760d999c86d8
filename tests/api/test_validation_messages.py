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


async def test_a_trade_names_its_alternatives_and_reports_the_chosen_ones_errors(
    api, partner, rate
):
    user = await api.user(partner)
    ids = {"user_id": user["id"], "rate_id": rate["rate_id"]}
    cases = [
        (ids, [{"field": "amount|grams", "message": "give exactly one of amount or grams"}]),
        (
            {**ids, "amount": "1.00", "admin": True},
            [{"field": "admin", "message": "unknown field"}],
        ),
        ({"amount": "1.00"}, [{"field": f, "message": "is required"} for f in ids]),
        (["amount"], [{"field": "(body)", "message": "must be an object, not an array"}]),
    ]
    for body, errors in cases:
        problem = await api.call(
            "POST", "/v1/transactions/buy", headers=partner.headers, json=body, expect=422
        )
        assert_for_people(problem)
        assert sorted(problem["errors"], key=str) == sorted(errors, key=str), (body, problem)


async def test_parameters_say_what_they_take(api, partner):
    user = await api.user(partner)
    history = f"/v1/users/{user['id']}/transactions"
    cases = [
        (f"{history}?limit=abc", "limit", "an integer from 1 to 100"),
        (f"{history}?limit=5%0A", "limit", "an integer from 1 to 100"),
        (f"{history}?limit=101", "limit", "an integer from 1 to 100"),
        (f"{history}?side=hold", "side", "one of buy, sell"),
        (f"{history}?status=done", "status", "one of pending, confirmed, cancelled, expired"),
        ("/v1/rates/history?interval=2h", "interval", "one of 1m, 5m, 15m, 1h, 1d"),
        ("/v1/rates/history?from=yesterday", "from", "must be an ISO 8601 date-time"),
    ]
    for path, field, message in cases:
        problem = await api.call("GET", path, headers=partner.headers, expect=422)
        assert problem["errors"] == [{"field": field, "message": message}], (path, problem)
    problem = await api.call(
        "POST",
        "/v1/users",
        headers={**partner.headers, "Idempotency-Key": "k" * 256},
        json={"external_id": "cust-1"},
        expect=422,
    )
    assert problem["errors"] == [
        {"field": "Idempotency-Key", "message": "1 to 255 printable characters"}
    ]
    for bad_id in ("nope", user["id"] + "0"):
        missing = await api.call("GET", f"/v1/users/{bad_id}", headers=partner.headers, expect=404)
        assert missing["detail"] == "The user does not exist."
