"""services.idempotency's request-independent parts: what counts as the same
request, and which keys are accepted (http/idempotency.py binds them to HTTP)."""

from gold_platform.services.idempotency import MAX_KEY_LENGTH, fingerprint, valid_key


def test_the_same_request_has_the_same_fingerprint_whatever_the_key_order():
    one = fingerprint("POST", "/v1/users", {"a": "1", "b": "2"})
    assert one == fingerprint("POST", "/v1/users", {"b": "2", "a": "1"})
    assert one != fingerprint("PUT", "/v1/users", {"a": "1", "b": "2"})
    assert one != fingerprint("POST", "/v1/partners", {"a": "1", "b": "2"})
    assert one != fingerprint("POST", "/v1/users", {"a": "1", "b": "3"})
    assert fingerprint("POST", "/x", None) != fingerprint("POST", "/x", {})


def test_keys_are_1_to_255_printable_characters():
    assert valid_key("order-1")
    assert valid_key("k" * MAX_KEY_LENGTH)
    assert not valid_key("")
    assert not valid_key("k" * (MAX_KEY_LENGTH + 1))
    assert not valid_key("tab\there")
