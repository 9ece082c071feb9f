"""Pure rules of the authorization domain."""

from __future__ import annotations

from borne.authorization.service import TOKEN_STATUSES, TOKEN_TYPES, token_key


def test_token_keys_ignore_letter_case() -> None:
    assert token_key("04a2b3c4") == token_key("04A2B3C4")
    assert token_key("abc") != token_key("abd")


def test_token_types_and_statuses_are_the_ocpp_ones() -> None:
    assert {"Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress",
            "NoAuthorization"} == TOKEN_TYPES  # fmt: skip
    assert {"Accepted", "Blocked", "Expired", "Invalid"} == TOKEN_STATUSES
