"""Pricing throughput: ``python -m benchmarks.pricing [--cdrs N] [--periods P]``.

Prices N CDRs (default 10,000) of P charging periods (default 50) under a 4-element tariff with
time-of-day, kWh and power restrictions plus parking, and prints one JSON object with the
CDRs per second. Pure CPU, one process; the sessions are generated deterministically first so
only pricing is timed.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from borne.tariffs import ChargingPeriod, SessionUsage, compile_tariff, parse_tariff, price_session

TARIFF = {
    "country_code": "FR",
    "party_id": "BRN",
    "id": "BENCH-4",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": Decimal("0.50"), "vat": Decimal(20), "step_size": 1},
                {"type": "ENERGY", "price": Decimal("0.20"), "vat": Decimal(20), "step_size": 1},
            ],
            "restrictions": {"start_time": "22:00", "end_time": "06:00"},
        },
        {
            "price_components": [
                {"type": "ENERGY", "price": Decimal("0.45"), "vat": Decimal(20), "step_size": 100}
            ],
            "restrictions": {"min_power": Decimal(50)},
        },
        {
            "price_components": [
                {"type": "ENERGY", "price": Decimal("0.35"), "vat": Decimal(20), "step_size": 1},
                {"type": "TIME", "price": Decimal("0.60"), "vat": Decimal(20), "step_size": 60},
            ],
            "restrictions": {"max_kwh": Decimal(40)},
        },
        {
            "price_components": [
                {"type": "ENERGY", "price": Decimal("0.30"), "vat": Decimal(20), "step_size": 1},
                {"type": "PARKING_TIME", "price": Decimal(6), "vat": Decimal(20), "step_size": 300},
            ]
        },
    ],
}


def make_sessions(count: int, periods: int, seed: int = 7) -> list[SessionUsage]:
    rng = random.Random(seed)
    base = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for _ in range(count):
        at = base + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        items = []
        for index in range(periods):
            minutes = rng.randrange(2, 15)
            parking = index >= periods - 3
            power = Decimal(rng.randrange(3, 150))
            items.append(
                ChargingPeriod(
                    start=at,
                    energy_kwh=Decimal(0) if parking else power * minutes / 60,
                    time_h=Decimal(0) if parking else Decimal(minutes) / 60,
                    parking_h=Decimal(minutes) / 60 if parking else Decimal(0),
                    min_power=None if parking else power,
                    max_power=None if parking else power,
                )
            )
            at += timedelta(minutes=minutes)
        out.append(SessionUsage(periods=tuple(items), end=at))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cdrs", type=int, default=10_000)
    parser.add_argument("--periods", type=int, default=50)
    parser.add_argument("--time-zone", default="Europe/Paris")
    args = parser.parse_args()
    tariff = compile_tariff(parse_tariff(TARIFF))
    sessions = make_sessions(args.cdrs, args.periods)
    started = time.perf_counter()
    total = Decimal(0)
    lines = 0
    for usage in sessions:
        priced = price_session(tariff, usage, args.time_zone)
        assert priced.total.excl is not None
        total += priced.total.excl
        lines += len(priced.lines)
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "benchmark": "tariff pricing",
                "cdrs": args.cdrs,
                "periods_per_cdr": args.periods,
                "tariff_elements": len(TARIFF["elements"]),  # type: ignore[arg-type]
                "priced_lines": lines,
                "seconds": round(elapsed, 3),
                "cdrs_per_second": round(args.cdrs / elapsed, 1),
                "periods_per_second": round(args.cdrs * args.periods / elapsed),
                "sum_of_totals_excl": str(total),
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
