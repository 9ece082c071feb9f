"""CSV and JSON exports of CDRs, streamed in chunks (one short unit of work per chunk).

CSV: one row per CDR, the columns of :data:`COLUMNS`, decimals exact, times ISO 8601 UTC. Text
cells that a spreadsheet would read as a formula (``= + - @``) are prefixed with ``'``.
JSON: an array of the OCPI CDRs (2.2.1 or 2.3.0) exactly as issued; a CDR without a 2.2.1 form
is left out of a 2.2.1 export.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from borne.cdrs import service
from borne.cdrs.models import Cdr
from borne.core.uow import Database
from borne.tariffs import OcpiVersion

CHUNK = 500
COLUMNS = (
    "cdr_id",
    "kind",
    "credit",
    "credit_reference_id",
    "replaces_cdr_id",
    "transaction_pk",
    "station_id",
    "transaction_id",
    "evse_id",
    "connector_id",
    "start_date_time",
    "end_date_time",
    "currency",
    "total_excl",
    "total_incl",
    "total_energy_kwh",
    "total_time_h",
    "total_parking_h",
    "tariff_id",
    "issued_at",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_VOLUME = Decimal("0.0001")


def _cell(value: object, *, volume: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.quantize(_VOLUME) if volume else value, "f")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_row(row: Cdr) -> list[str]:
    volumes = {"total_energy_kwh", "total_time_h", "total_parking_h"}
    return [_cell(getattr(row, name), volume=name in volumes) for name in COLUMNS]


@dataclass(frozen=True)
class _Item:
    csv: list[str]
    ocpi_221: str | None
    ocpi_230: str


async def _rows(
    db: Database, station_id: str | None, date_from: datetime | None, date_to: datetime | None
) -> AsyncIterator[list[_Item]]:
    """Chunks of CDRs by internal id, each read (and copied out) inside its own unit of work."""
    after = 0
    while True:
        async with db.unit_of_work() as uow:
            rows = await service.export_rows(
                uow,
                station_id=station_id,
                date_from=date_from,
                date_to=date_to,
                after_id=after,
                chunk=CHUNK,
            )
            items = [_Item(csv_row(r), r.ocpi_221, r.ocpi_230) for r in rows]
            last = rows[-1].id if rows else after
        if not items:
            return
        yield items
        after = last


async def csv_chunks(
    db: Database, *, station_id: str | None, date_from: datetime | None, date_to: datetime | None
) -> AsyncIterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield buf.getvalue()
    async for rows in _rows(db, station_id, date_from, date_to):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        for item in rows:
            writer.writerow(item.csv)
        yield buf.getvalue()


async def json_chunks(
    db: Database,
    *,
    version: OcpiVersion,
    station_id: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
) -> AsyncIterator[str]:
    yield "["
    first = True
    async for rows in _rows(db, station_id, date_from, date_to):
        for item in rows:
            text = item.ocpi_221 if version == "2.2.1" else item.ocpi_230
            if text is None:
                continue
            yield text if first else ", " + text
            first = False
    yield "]"
