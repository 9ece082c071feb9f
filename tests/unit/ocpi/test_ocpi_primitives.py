"""Pure helpers of the OCPI transport: tokens, DateTimes, envelope, errors, windows."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from borne.ocpi import (
    InvalidParameters,
    NotFoundError,
    OcpiModel,
    OcpiResponse,
    OcpiVersion,
    PageParams,
    Unauthorized,
    UnknownLocation,
    UnknownToken,
    authorization_header,
    envelope,
    ocpi_datetime,
    parse_ocpi_datetime,
    status,
    token_candidates,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, []),
        ("", []),
        ("Token ", []),
        ("Bearer abc", []),
        ("Token " + b64("my-token-123"), ["my-token-123", b64("my-token-123")]),
        ("token " + b64("my-token-123"), ["my-token-123", b64("my-token-123")]),
        # Raw tokens that are not base64 (dash) or decode to binary stay raw only.
        ("Token 0b8a6f5e-1d3c-4d2a-9f6b-2c1e0d9a8b7c", ["0b8a6f5e-1d3c-4d2a-9f6b-2c1e0d9a8b7c"]),
        ("Token abcd", ["abcd"]),
        # Decodes to a control character: not a plausible token, raw only.
        ("Token " + b64("a\x01b"), [b64("a\x01b")]),
        ("Token   spaced  ", ["spaced"]),
    ],
)
def test_token_candidates(header: str | None, expected: list[str]) -> None:
    assert token_candidates(header) == expected


def test_authorization_header_round_trip() -> None:
    assert authorization_header("tok-1", base64=False) == "Token tok-1"
    header = authorization_header("tok-1", base64=True)
    assert header == "Token " + b64("tok-1")
    assert token_candidates(header)[0] == "tok-1"


def test_ocpi_datetime_format() -> None:
    cet = timezone(timedelta(hours=1))
    assert ocpi_datetime(datetime(2025, 1, 1, 13, 0, 0, 123456, tzinfo=cet)) == (
        "2025-01-01T12:00:00Z"
    )
    assert ocpi_datetime(datetime(2025, 6, 30, 23, 59, 59)) == "2025-06-30T23:59:59Z"


@pytest.mark.parametrize(
    "text",
    [
        "2025-01-01T12:00:00Z",
        "2025-01-01T12:00:00",
        "2025-01-01T12:00:00.000Z",
        "2025-01-01T12:00:00.5Z",
        "2025-01-01T13:00:00+01:00",
        "2025-01-01T12:00:00z",
    ],
)
def test_parse_ocpi_datetime_variants(text: str) -> None:
    parsed = parse_ocpi_datetime(text)
    assert parsed.tzinfo is not None
    assert parsed.replace(microsecond=0) == datetime(2025, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "yesterday", "2025-02-30T00:00:00Z", "12:00"])
def test_parse_ocpi_datetime_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ocpi_datetime(text)


def test_envelope_shape() -> None:
    env = envelope([1], status_code=status.INVALID_PARAMETERS, message="bad")
    assert env["data"] == [1]
    assert env["status_code"] == 2001
    assert env["status_message"] == "bad"
    parse_ocpi_datetime(env["timestamp"])
    assert env["timestamp"].endswith("Z")
    assert envelope()["status_code"] == 1000


class Connector(OcpiModel):
    id: str
    max_power: Decimal
    last_updated: datetime
    terms: str | None = None


@dataclass(frozen=True)
class Window:
    start: datetime


def test_response_renders_models_datetimes_and_decimals() -> None:
    when = datetime(2025, 3, 1, 8, 30, 15, 999999, tzinfo=UTC)
    model = Connector.model_validate(
        {"id": "1", "max_power": "0.30000000000000004441", "last_updated": when, "future": {"x": 1}}
    )
    resp = OcpiResponse(envelope({"items": [model], "at": when, "party": Window(when)}))
    assert b'"max_power":0.30000000000000004441' in bytes(resp.body)  # exact, not via float
    body = json.loads(bytes(resp.body))
    assert body["data"]["at"] == "2025-03-01T08:30:15Z"
    assert body["data"]["party"] == {"start": "2025-03-01T08:30:15Z"}
    item = body["data"]["items"][0]
    # None fields omitted, unknown field kept, DateTime in OCPI form.
    assert item == {
        "id": "1",
        "max_power": 0.30000000000000004441,
        "last_updated": "2025-03-01T08:30:15Z",
        "future": {"x": 1},
    }


def test_errors_carry_ocpi_and_http_codes() -> None:
    cases = [
        (InvalidParameters("x"), 2001, 200),
        (UnknownLocation(), 2003, 404),
        (UnknownToken(), 2004, 404),
        (NotFoundError(), 2000, 404),
        (Unauthorized(), 2000, 401),
    ]
    for err, code, http in cases:
        assert (err.status_code, err.http_status) == (code, http)
    assert InvalidParameters("why").message == "why"


def test_versions() -> None:
    assert [v.value for v in OcpiVersion] == ["2.2.1", "2.3.0"]
    assert OcpiVersion("2.3.0") is OcpiVersion.V230


def test_window_inclusive_from_exclusive_to() -> None:
    t = datetime(2025, 1, 1, tzinfo=UTC)
    params = PageParams(offset=0, limit=10, date_from=t, date_to=t + timedelta(hours=1))
    assert params.in_window(t)
    assert params.in_window(t + timedelta(minutes=59, seconds=59))
    assert not params.in_window(t + timedelta(hours=1))
    assert not params.in_window(t - timedelta(seconds=1))
    assert params.in_window(t.replace(tzinfo=None))  # naive = UTC
    unbounded = PageParams(offset=0, limit=10, date_from=None, date_to=None)
    assert unbounded.in_window(t)
