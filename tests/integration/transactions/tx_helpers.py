"""Builders for the transactions tests: a CSMS with both versions' handlers, tokens, queries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import ocpp
from sqlalchemy import func, select

from borne.authorization.models import IdToken
from borne.core.deps import Deps
from borne.ocpp.context import CallContext, StationSessionState
from borne.ocpp.router import Router
from borne.ocpp.versions import OcppVersion
from borne.transactions import ocpp_v16, ocpp_v201
from borne.transactions.events import MeterValuesRecorded, TransactionEnded, TransactionStarted
from borne.transactions.models import MeterValueSample, Transaction, TransactionEventLog

_SCHEMAS = Path(ocpp.__file__).parent
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


@cache
def _response_validator(version: OcppVersion, action: str) -> Any:
    if version is OcppVersion.V16:
        path = _SCHEMAS / "v16" / "schemas" / f"{action}Response.json"
    else:
        path = _SCHEMAS / "v201" / "schemas" / f"{action}Response.json"
    return fastjsonschema.compile(json.loads(path.read_text(encoding="utf-8")))


@cache
def _request_validator(version: OcppVersion, action: str) -> Any:
    if version is OcppVersion.V16:
        path = _SCHEMAS / "v16" / "schemas" / f"{action}.json"
    else:
        path = _SCHEMAS / "v201" / "schemas" / f"{action}Request.json"
    return fastjsonschema.compile(json.loads(path.read_text(encoding="utf-8")))


class _Conn:
    def __init__(self, station_id: str, version: OcppVersion) -> None:
        self.station_id = station_id
        self.ocpp_version = str(version)

    async def call(
        self,
        action: str,
        payload: Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        raise AssertionError("no CSMS call expected")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


class Csms:
    """The transactions handlers of both versions, called like the router would."""

    def __init__(self, deps: Deps, *, validate: bool = True) -> None:
        self.deps = deps
        self.validate = validate
        self.routers = {v: Router(v) for v in OcppVersion}
        ocpp_v16.register(self.routers[OcppVersion.V16], deps)
        ocpp_v201.register(self.routers[OcppVersion.V201], deps)
        self.events: list[object] = []
        for cls in (TransactionStarted, TransactionEnded, MeterValuesRecorded):
            deps.bus.subscribe(cls, self._record)

    async def _record(self, ev: object) -> None:
        self.events.append(ev)

    async def call(
        self, version: OcppVersion, station: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        if self.validate:
            _request_validator(version, action)(payload)
        router = self.routers[version]
        req = router.requests[action].model_validate(payload)
        handler = router.handler_for(action)
        assert handler is not None
        ctx = CallContext(
            station_id=station,
            version=version,
            message_id="m",
            received_at=datetime.now(UTC),
            connection=_Conn(station, version),
            state=StationSessionState(registration_status="Accepted"),
        )
        out = (await handler(ctx, req)).to_payload()
        if self.validate:
            _response_validator(version, action)(out)
        return out

    async def v16(self, station: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await self.call(OcppVersion.V16, station, action, payload)

    async def v201(self, station: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        return await self.call(OcppVersion.V201, station, action, payload)

    # --- 1.6 builders ---
    async def start16(
        self,
        station: str,
        *,
        connector: int = 1,
        tag: str = "TAG1",
        meter: int = 1000,
        ts: datetime = T0,
    ) -> dict[str, Any]:
        return await self.v16(
            station,
            "StartTransaction",
            {"connectorId": connector, "idTag": tag, "meterStart": meter, "timestamp": iso(ts)},
        )

    async def stop16(
        self,
        station: str,
        tx_id: int,
        *,
        meter: int = 5000,
        ts: datetime | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        payload = {
            "transactionId": tx_id,
            "meterStop": meter,
            "timestamp": iso(ts or T0 + timedelta(hours=1)),
            **extra,
        }
        return await self.v16(station, "StopTransaction", payload)

    # --- 2.0.1 builders ---
    async def event201(
        self,
        station: str,
        tx_id: str,
        event_type: str,
        seq_no: int,
        *,
        ts: datetime = T0,
        trigger: str | None = None,
        samples: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        info = {"transactionId": tx_id, **extra.pop("info", {})}
        payload: dict[str, Any] = {
            "eventType": event_type,
            "timestamp": iso(ts),
            "triggerReason": trigger
            or {"Started": "CablePluggedIn", "Updated": "MeterValuePeriodic"}.get(
                event_type, "EVDeparted"
            ),
            "seqNo": seq_no,
            "transactionInfo": info,
            **extra,
        }
        if samples:
            payload["meterValue"] = [{"timestamp": iso(ts), "sampledValue": samples}]
        return await self.v201(station, "TransactionEvent", payload)

    # --- database ---
    async def token(
        self,
        value: str,
        status: str = "Accepted",
        *,
        expiry: datetime | None = None,
        group: str | None = None,
    ) -> None:
        now = datetime.now(UTC)
        async with self.deps.db.unit_of_work() as uow:
            uow.session.add(
                IdToken(
                    id_token=value,
                    id_token_key=value.upper(),
                    status=status,
                    expiry_date=expiry,
                    group_id_token=group,
                    created_at=now,
                    updated_at=now,
                )
            )
            await uow.commit()

    async def transactions(self, station: str | None = None) -> list[Transaction]:
        async with self.deps.db.unit_of_work() as uow:
            stmt = select(Transaction).order_by(Transaction.id)
            if station is not None:
                stmt = stmt.where(Transaction.station_id == station)
            rows = list(await uow.session.scalars(stmt))
            uow.session.expunge_all()  # keep them loaded after the unit of work rolls back
            return rows

    async def tx(self, station: str, tx_id: str | int) -> Transaction:
        async with self.deps.db.unit_of_work() as uow:
            row = (
                await uow.session.scalars(
                    select(Transaction).where(
                        Transaction.station_id == station,
                        Transaction.transaction_id == str(tx_id),
                    )
                )
            ).one()
            uow.session.expunge_all()
            return row

    async def samples(
        self, tx_pk: int | None = None, *, station: str | None = None
    ) -> list[MeterValueSample]:
        async with self.deps.db.unit_of_work() as uow:
            stmt = select(MeterValueSample).order_by(MeterValueSample.id)
            if tx_pk is not None:
                stmt = stmt.where(MeterValueSample.transaction_pk == tx_pk)
            if station is not None:
                stmt = stmt.where(MeterValueSample.station_id == station)
            rows = list(await uow.session.scalars(stmt))
            uow.session.expunge_all()  # keep them loaded after the unit of work rolls back
            return rows

    async def count(self, model: type[Any]) -> int:
        async with self.deps.db.unit_of_work() as uow:
            return int(await uow.session.scalar(select(func.count()).select_from(model)) or 0)

    async def event_log(self, tx_pk: int) -> list[TransactionEventLog]:
        async with self.deps.db.unit_of_work() as uow:
            stmt = (
                select(TransactionEventLog)
                .where(TransactionEventLog.transaction_pk == tx_pk)
                .order_by(TransactionEventLog.seq_no)
            )
            rows = list(await uow.session.scalars(stmt))
            uow.session.expunge_all()  # keep them loaded after the unit of work rolls back
            return rows

    async def settle(self) -> None:
        """Let the published events reach the subscribers."""
        for _ in range(5):
            await asyncio.sleep(0)
