"""Builders of the reservations tests: the operator API over ASGI, fake stations in the real
registry, the real transactions and reservations handlers, the real bus."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

import borne.reservations.models  # noqa: F401  (the table, until borne.models lists it)
from borne.api_context import ApiContext
from borne.app import create_app
from borne.authorization.models import IdToken
from borne.core.deps import Deps
from borne.ocpp.context import CallContext, StationSessionState
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.router import Router
from borne.ocpp.versions import OcppVersion
from borne.reservations.config import ReservationsConfig
from borne.reservations.events import ReservationChanged, ReservationViolated
from borne.reservations.wiring import ReservationsWiring, install
from borne.transactions import ocpp_v16 as tx_v16
from borne.transactions import ocpp_v201 as tx_v201
from fake_station import FakeStation

KEY = "test-operator-key-reservations"
V16 = OcppVersion.V16
V201 = OcppVersion.V201


def iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def soon(seconds: float = 3600) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


class _Conn:
    def __init__(self, station_id: str, version: OcppVersion) -> None:
        self.station_id = station_id
        self.ocpp_version = str(version)

    async def call(self, action: str, payload: Any, *, timeout: float | None = None) -> Any:
        raise AssertionError("no CSMS call expected")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


class Env:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.routers = {v: Router(v) for v in OcppVersion}
        tx_v16.register(self.routers[V16], deps)
        tx_v201.register(self.routers[V201], deps)
        self.wiring: ReservationsWiring = install(deps, self.routers[V201], ReservationsConfig())
        self.events: list[object] = []
        for cls in (ReservationChanged, ReservationViolated):
            deps.bus.subscribe(cls, self._record)
        ctx = ApiContext(
            deps=deps,
            outbound=OcppOutbound(deps.registry),
            api_keys=[KEY],
            routers=[self.wiring.api_router],
        )
        self.api = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(ctx)),
            base_url="http://borne/api/v1",
            headers={"Authorization": f"Bearer {KEY}"},
        )

    async def _record(self, ev: object) -> None:
        self.events.append(ev)

    def station(
        self, sid: str, version: OcppVersion, answers: dict[str, Any] | None = None
    ) -> FakeStation:
        default = {
            "ReserveNow": {"status": "Accepted"},
            "CancelReservation": {"status": "Accepted"},
        }
        fake = FakeStation(sid, version, {**default, **(answers or {})})
        self.deps.registry.register(fake)
        return fake

    async def reserve(self, sid: str, **body: Any) -> httpx.Response:
        body.setdefault("id_token", "TAG1")
        body.setdefault("expiry", soon())
        return await self.api.post("/reservations", json={"station_id": sid, **body})

    async def get(self, pk: int) -> dict[str, Any]:
        r = await self.api.get(f"/reservations/{pk}")
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    async def until(self, pk: int, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The reservation once ``check`` holds (subscribers run after the commit)."""
        for _ in range(200):
            body = await self.get(pk)
            if check(body):
                return body
            await asyncio.sleep(0.02)
        raise AssertionError(f"reservation {pk} never matched: {body}")

    async def event_seen(self, check: Callable[[object], bool]) -> bool:
        for _ in range(200):
            if any(check(e) for e in self.events):
                return True
            await asyncio.sleep(0.02)
        return False

    async def ocpp(
        self, version: OcppVersion, sid: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        router = self.routers[version]
        handler = router.handler_for(action)
        assert handler is not None
        ctx = CallContext(
            station_id=sid,
            version=version,
            message_id="m",
            received_at=datetime.now(UTC),
            connection=_Conn(sid, version),
            state=StationSessionState(registration_status="Accepted"),
        )
        out: dict[str, Any] = (
            await handler(ctx, router.requests[action].model_validate(payload))
        ).to_payload()
        return out

    async def token(self, value: str, *, group: str | None = None) -> None:
        now = datetime.now(UTC)
        async with self.deps.db.unit_of_work() as uow:
            uow.session.add(
                IdToken(
                    id_token=value,
                    id_token_key=value.upper(),
                    status="Accepted",
                    group_id_token=group,
                    created_at=now,
                    updated_at=now,
                )
            )
            await uow.commit()

    async def start16(
        self, sid: str, *, connector: int = 1, tag: str = "TAG1", **extra: Any
    ) -> dict[str, Any]:
        payload = {
            "connectorId": connector,
            "idTag": tag,
            "meterStart": 0,
            "timestamp": iso(datetime.now(UTC)),
            **extra,
        }
        return await self.ocpp(V16, sid, "StartTransaction", payload)

    async def started201(
        self, sid: str, tx_id: str, *, evse: int = 1, tag: str = "TAG1", **info: Any
    ) -> dict[str, Any]:
        payload = {
            "eventType": "Started",
            "timestamp": iso(datetime.now(UTC)),
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": tx_id},
            "idToken": {"idToken": tag, "type": "ISO14443"},
            "evse": {"id": evse, "connectorId": 1},
            **info,
        }
        return await self.ocpp(V201, sid, "TransactionEvent", payload)
