"""Device-model storage: NotifyReport parts (replace vs merge), Get/SetVariables values, the 1.6
configuration snapshot. Through the real NotifyReport handler on a real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

import borne.device_model.models  # noqa: F401  (registers the tables)
from borne.core.deps import Deps
from borne.device_model import ocpp_v201, service
from borne.device_model.events import DeviceReportCompleted
from borne.ocpp.context import CallContext, StationSessionState
from borne.ocpp.router import Router
from borne.ocpp.versions import OcppVersion
from borne.stations import admin
from borne.stations.events import ReportReceived

T0 = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2030, 5, 2, 12, 0, tzinfo=UTC)


class _NoCalls:
    station_id = "CP-1"
    ocpp_version = "2.0.1"

    async def call(self, *a: Any, **kw: Any) -> dict[str, Any]:
        raise AssertionError("no CSMS call expected")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        return None


def ctx(at: datetime = T0) -> CallContext:
    return CallContext(
        station_id="CP-1",
        version=OcppVersion.V201,
        message_id="m1",
        received_at=at,
        connection=_NoCalls(),
        state=StationSessionState(),
    )


def rd(
    component: str,
    variable: str,
    *attrs: dict[str, Any],
    evse: dict[str, int] | None = None,
    chars: dict[str, Any] | None = None,
) -> dict[str, Any]:
    comp: dict[str, Any] = {"name": component}
    if evse is not None:
        comp["evse"] = evse
    out: dict[str, Any] = {
        "component": comp,
        "variable": {"name": variable},
        "variableAttribute": list(attrs) or [{"value": "x"}],
    }
    if chars is not None:
        out["variableCharacteristics"] = chars
    return out


def part(request_id: int, seq: int, tbc: bool, *data: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestId": request_id,
        "generatedAt": T0.isoformat(),
        "seqNo": seq,
        "tbc": tbc,
        "reportData": list(data),
    }


HB = rd(
    "OCPPCommCtrlr",
    "HeartbeatInterval",
    {"type": "Actual", "value": "300", "mutability": "ReadWrite", "persistent": True},
    {"type": "MaxSet", "value": "3600", "mutability": "ReadOnly", "constant": True},
    chars={
        "dataType": "integer",
        "unit": "s",
        "minLimit": 1,
        "maxLimit": 3600,
        "supportsMonitoring": False,
    },
)
CONN = rd(
    "Connector",
    "ConnectorType",
    {"value": "cType2", "mutability": "ReadOnly"},
    evse={"id": 1, "connectorId": 1},
    chars={"dataType": "OptionList", "valuesList": "cType2,cCCS2", "supportsMonitoring": True},
)
PWD = rd(
    "SecurityCtrlr",
    "BasicAuthPassword",
    {"value": "never-stored-secret", "mutability": "WriteOnly"},
    chars={"dataType": "string", "supportsMonitoring": False},
)


@pytest.fixture
async def notify(deps: Deps) -> Any:
    async with deps.db.unit_of_work() as uow:
        await admin.create_station(uow, station_id="CP-1", now=T0, security_profile=0)
        await uow.commit()
    router = Router(OcppVersion.V201)
    ocpp_v201.register(router, deps)
    handler = router.handler_for("NotifyReport")
    assert handler is not None

    async def send(payload: dict[str, Any], at: datetime = T0) -> dict[str, Any]:
        req = router.requests["NotifyReport"].model_validate(payload)
        resp = await handler(ctx(at), req)
        return resp.to_payload()

    return send


async def model(deps: Deps, **filters: Any) -> dict[tuple[Any, ...], Any]:
    """The stored variables by (component, evse, connector, variable), detached copies."""
    async with deps.db.unit_of_work() as uow:
        page = await service.list_variables(uow, station_id="CP-1", limit=500, **filters)
        out = {}
        for v in page.items:
            attrs = [SimpleNamespace(**_cols(a)) for a in v.attributes]
            out[(v.component_name, v.evse_id, v.connector_id, v.variable_name)] = SimpleNamespace(
                **_cols(v), attributes=attrs
            )
    return out


def _cols(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


async def request(deps: Deps, request_id: int, kind: str) -> None:
    async with deps.db.unit_of_work() as uow:
        await service.record_report_request(
            uow, station_id="CP-1", request_id=request_id, kind=kind, now=T0
        )
        await uow.commit()


async def test_full_inventory_stores_everything_then_replaces(deps: Deps, notify: Any) -> None:
    events: list[object] = []

    async def seen(e: object) -> None:
        events.append(e)

    deps.bus.subscribe(DeviceReportCompleted, seen)
    deps.bus.subscribe(ReportReceived, seen)
    await request(deps, 1, "FullInventory")
    assert await notify(part(1, 0, True, HB, PWD)) == {}
    await notify(part(1, 1, False, CONN))
    m = await model(deps)
    assert set(m) == {
        ("OCPPCommCtrlr", 0, 0, "HeartbeatInterval"),
        ("Connector", 1, 1, "ConnectorType"),
        ("SecurityCtrlr", 0, 0, "BasicAuthPassword"),
    }
    hb = m[("OCPPCommCtrlr", 0, 0, "HeartbeatInterval")]
    assert (hb.data_type, hb.unit, hb.min_limit, hb.max_limit) == ("integer", "s", 1, 3600)
    attrs = {a.type: a for a in hb.attributes}
    assert (attrs["Actual"].value, attrs["Actual"].persistent) == ("300", True)
    assert (attrs["MaxSet"].value, attrs["MaxSet"].constant) == ("3600", True)
    conn = m[("Connector", 1, 1, "ConnectorType")]
    assert (conn.values_list, conn.supports_monitoring) == ("cType2,cCCS2", True)
    assert conn.attributes[0].type == "Actual"  # the attribute type defaults to Actual
    pwd = m[("SecurityCtrlr", 0, 0, "BasicAuthPassword")]
    assert pwd.attributes[0].value is None  # WriteOnly: never stored (R27)

    # A second full inventory: the old model stays until its last part, then is replaced.
    await request(deps, 2, "FullInventory")
    await notify(part(2, 0, True, HB), T1)
    assert len(await model(deps)) == 3
    await notify(part(2, 1, False, CONN), T1)
    assert set(await model(deps)) == {
        ("OCPPCommCtrlr", 0, 0, "HeartbeatInterval"),
        ("Connector", 1, 1, "ConnectorType"),
    }
    async with deps.db.unit_of_work() as uow:
        reports = await service.list_reports(uow, station_id="CP-1")
        latest = reports.items[0]
        assert (latest.request_id, latest.status, latest.parts, latest.variables) == (
            2,
            "Complete",
            2,
            2,
        )
    for _ in range(200):
        if len(events) >= 4:
            break
        await asyncio.sleep(0.01)
    completed = [e for e in events if isinstance(e, DeviceReportCompleted)]
    assert [(e.request_id, e.kind, e.replaced) for e in completed] == [
        (1, "FullInventory", True),
        (2, "FullInventory", True),
    ]
    # The stations domain's flat view and event are still fed.
    assert [e.request_id for e in events if isinstance(e, ReportReceived)] == [1, 2]


@pytest.mark.parametrize("kind", ["ConfigurationInventory", "SummaryInventory", "Criteria", None])
async def test_partial_reports_merge(deps: Deps, notify: Any, kind: str | None) -> None:
    await request(deps, 1, "FullInventory")
    await notify(part(1, 0, False, HB, CONN))
    if kind is not None:
        await request(deps, 7, kind)  # None: a report Borne did not ask for
    changed = rd("OCPPCommCtrlr", "HeartbeatInterval", {"value": "60", "mutability": "ReadWrite"})
    new = rd("AuthCtrlr", "Enabled", {"value": "true"})
    await notify(part(7, 0, False, changed, new), T1)
    m = await model(deps)
    assert len(m) == 3  # nothing removed
    hb = m[("OCPPCommCtrlr", 0, 0, "HeartbeatInterval")]
    values = {a.type: a.value for a in hb.attributes}
    assert values == {"Actual": "60", "MaxSet": "3600"}  # merged attribute by attribute
    assert hb.data_type == "integer"  # characteristics kept when a part has none
    assert set(await model(deps, component="AuthCtrlr")) == {("AuthCtrlr", 0, 0, "Enabled")}


async def test_variable_values_from_get_and_set(deps: Deps, notify: Any) -> None:
    await notify(part(1, 0, False, HB, PWD))
    async with deps.db.unit_of_work() as uow:
        await service.store_values(
            uow,
            station_id="CP-1",
            updates=[
                service.ValueUpdate(service.Address("OCPPCommCtrlr", "HeartbeatInterval"), "90"),
                service.ValueUpdate(service.Address("EVSE", "Power", evse_id=2), "22000", "MaxSet"),
                service.ValueUpdate(service.Address("SecurityCtrlr", "BasicAuthPassword"), "x"),
            ],
            source="set",
            now=T1,
        )
        await uow.commit()
    m = await model(deps)
    hb = {a.type: a for a in m[("OCPPCommCtrlr", 0, 0, "HeartbeatInterval")].attributes}
    assert (hb["Actual"].value, hb["Actual"].source, hb["Actual"].mutability) == (
        "90",
        "set",
        "ReadWrite",
    )
    assert hb["MaxSet"].value == "3600"
    power = m[("EVSE", 2, 0, "Power")]
    assert [(a.type, a.value) for a in power.attributes] == [("MaxSet", "22000")]
    assert m[("SecurityCtrlr", 0, 0, "BasicAuthPassword")].attributes[0].value is None
    assert set(await model(deps, evse_id=2)) == {("EVSE", 2, 0, "Power")}


async def test_configuration_snapshot(deps: Deps, notify: Any) -> None:
    kv = service.KeyValue
    async with deps.db.unit_of_work() as uow:
        await service.store_configuration(
            uow,
            station_id="CP-1",
            entries=[
                kv("HeartbeatInterval", "300", False),
                kv("NumberOfConnectors", "2", True),
                kv("AuthorizationKey", "secret", False),
                kv("Old", "1", False),
            ],
            unknown_keys=[],
            complete=True,
            now=T0,
        )
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        # A full refresh replaces; a keyed one merges and drops what the station calls unknown.
        await service.store_configuration(
            uow,
            station_id="CP-1",
            entries=[
                kv("HeartbeatInterval", "300", False),
                kv("NumberOfConnectors", "2", True),
                kv("AuthorizationKey", None, False),
                kv("Gone", "1", False),
            ],
            unknown_keys=[],
            complete=True,
            now=T1,
        )
        await service.store_configuration(
            uow,
            station_id="CP-1",
            entries=[kv("MeterValueSampleInterval", "60", False)],
            unknown_keys=["Gone"],
            complete=False,
            now=T1,
        )
        await service.store_configuration_change(
            uow, station_id="CP-1", key="HeartbeatInterval", value="120", now=T1
        )
        await service.store_configuration_change(
            uow, station_id="CP-1", key="AuthorizationKey", value="new-secret", now=T1
        )
        await uow.commit()
    async with deps.db.unit_of_work() as uow:
        snap, keys = await service.list_configuration(uow, station_id="CP-1")
        assert snap is not None and snap.refreshed_at == T1 and snap.keys == 4
        stored = {k.key: (k.value, k.readonly, k.source) for k in keys}
    assert stored == {
        "AuthorizationKey": (None, False, "change"),
        "HeartbeatInterval": ("120", False, "change"),
        "MeterValueSampleInterval": ("60", False, "get"),
        "NumberOfConnectors": ("2", True, "get"),
    }
