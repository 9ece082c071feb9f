"""Domain events of the transactions domain, published after commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class TransactionStarted:
    transaction_pk: int
    station_id: str
    transaction_id: str
    ocpp_version: str
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    started_at: datetime | None
    meter_start_wh: Decimal | None


@dataclass(frozen=True)
class TransactionEnded:
    transaction_pk: int
    station_id: str
    transaction_id: str
    started_at: datetime | None
    stopped_at: datetime | None
    stop_reason: str | None
    meter_start_wh: Decimal | None
    meter_stop_wh: Decimal | None
    energy_wh: Decimal | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class MeterValuesRecorded:
    station_id: str
    transaction_pk: int | None
    transaction_id: str | None
    samples: int
    last_timestamp: datetime | None
    last_energy_wh: Decimal | None
    # State of charge (percent) of the latest ``SoC`` sample of the message, if it had one.
    last_soc: Decimal | None = None
