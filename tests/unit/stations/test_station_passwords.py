"""Station password hashing (R24): format, salt, verification, malformed hashes."""

from __future__ import annotations

import pytest

from borne.stations import passwords

SECRET = "0123456789abcdefXYZ"


def test_hash_format_and_verification() -> None:
    encoded = passwords.hash_password(SECRET, iterations=1_000)
    scheme, iterations, salt, digest = encoded.split("$")
    assert (scheme, iterations) == ("pbkdf2_sha256", "1000")
    assert salt and digest and SECRET not in encoded
    assert passwords.verify_password(SECRET, encoded)
    assert not passwords.verify_password(SECRET + "x", encoded)
    assert not passwords.verify_password(SECRET.upper(), encoded)


def test_each_hash_has_its_own_salt() -> None:
    a = passwords.hash_password(SECRET, iterations=1_000)
    b = passwords.hash_password(SECRET, iterations=1_000)
    assert a != b
    assert passwords.verify_password(SECRET, a) and passwords.verify_password(SECRET, b)


def test_default_iterations_are_stored_in_the_hash() -> None:
    encoded = passwords.hash_password(SECRET)
    assert encoded.split("$")[1] == str(passwords.DEFAULT_ITERATIONS)


@pytest.mark.parametrize(
    "encoded",
    [None, "", "plain", "md5$1$YQ==$YQ==", "pbkdf2_sha256$x$YQ==$YQ==", "pbkdf2_sha256$0$YQ==$YQ==",
     "pbkdf2_sha256$10$***$YQ==", SECRET],
)  # fmt: skip
def test_malformed_hashes_never_match(encoded: str | None) -> None:
    assert not passwords.verify_password(SECRET, encoded)


def test_iterations_must_be_positive() -> None:
    with pytest.raises(ValueError):
        passwords.hash_password(SECRET, iterations=0)
