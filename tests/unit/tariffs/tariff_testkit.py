"""Builders shared by the tariff tests: the OCPI example files and sessions made of segments."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest

from borne.tariffs import ChargingPeriod, SessionUsage, Tariff, parse_tariff

#: /work/shared/ocpi when the repository is /work/main
OCPI_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "ocpi"

D = Decimal


def example_json(version: str, name: str) -> dict[str, Any]:
    """The spec's JSON example ``name`` of ``version`` (numbers as Decimal); skip when the
    shared OCPI folder is not next to the repository."""
    path = OCPI_DIR / f"examples-{version}" / name
    if not path.is_file():
        pytest.skip(f"OCPI examples not found at {path} (checkout outside the Borne workspace)")
    data: dict[str, Any] = json.loads(path.read_text(), parse_float=Decimal)
    return data


def example(version: str, name: str) -> Tariff:
    return parse_tariff(example_json(version, name), version)  # type: ignore[arg-type]


def spec_text(version: str, module: str = "mod_tariffs") -> str:
    path = OCPI_DIR / f"spec-{version}" / f"{module}.asciidoc"
    if not path.is_file():
        pytest.skip(f"OCPI specification text not found at {path}")
    return path.read_text()


@dataclass(frozen=True)
class Seg:
    """One stretch of a session: ``minutes`` of charging, parking or reservation."""

    kind: Literal["charge", "park", "reserve"]
    minutes: Decimal | int
    kwh: Decimal | int = 0
    current: Decimal | int | None = None
    power: Decimal | int | None = None


def charge(minutes: Decimal | int, kwh: Decimal | int = 0, **kw: Any) -> Seg:
    return Seg("charge", minutes, kwh, **kw)


def park(minutes: Decimal | int) -> Seg:
    return Seg("park", minutes)


def reserve(minutes: Decimal | int) -> Seg:
    return Seg("reserve", minutes)


def session(start: datetime, *segs: Seg, expired: bool = False) -> SessionUsage:
    periods: list[ChargingPeriod] = []
    at = start
    for s in segs:
        hours = D(s.minutes) / 60
        cur = None if s.current is None else D(s.current)
        pw = None if s.power is None else D(s.power)
        periods.append(
            ChargingPeriod(
                start=at,
                energy_kwh=D(s.kwh),
                time_h=hours if s.kind == "charge" else D(0),
                parking_h=hours if s.kind == "park" else D(0),
                reservation_h=hours if s.kind == "reserve" else D(0),
                min_current=cur,
                max_current=cur,
                min_power=pw,
                max_power=pw,
            )
        )
        at = at + timedelta(minutes=float(s.minutes))
    return SessionUsage(periods=tuple(periods), end=at, reservation_expired=expired)
