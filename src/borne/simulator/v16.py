"""A simulated OCPP 1.6J charge point (Core + Remote Trigger profiles)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocpp.v16 import ChargePoint, call, call_result

from borne.simulator._ocpp import after, on
from borne.simulator.config import SimulationConfig
from borne.simulator.ev import Connector, utc_now
from borne.simulator.station import SimStation

DEMO_VENDOR = "org.borne.simulator"
"""DataTransfer vendor the simulator understands (messageId ``Echo`` returns the data)."""


@dataclass(slots=True)
class ConfigKey:
    value: str
    readonly: bool = False
    kind: str = "str"  # "int", "bool" or "str"
    hidden: bool = False  # write-only (AuthorizationKey): never reported


def default_configuration(cfg: SimulationConfig) -> dict[str, ConfigKey]:
    measurands = "Energy.Active.Import.Register,Power.Active.Import,SoC"
    return {
        "HeartbeatInterval": ConfigKey(str(int(cfg.heartbeat_interval or 60)), kind="int"),
        "MeterValueSampleInterval": ConfigKey(str(max(1, round(cfg.meter_interval))), kind="int"),
        "MeterValuesSampledData": ConfigKey(measurands),
        "StopTxnSampledData": ConfigKey("Energy.Active.Import.Register"),
        "NumberOfConnectors": ConfigKey(str(cfg.connectors), readonly=True, kind="int"),
        "ConnectionTimeOut": ConfigKey("60", kind="int"),
        "AuthorizeRemoteTxRequests": ConfigKey("false", kind="bool"),
        "LocalPreAuthorize": ConfigKey("false", kind="bool"),
        "StopTransactionOnEVSideDisconnect": ConfigKey("true", readonly=True, kind="bool"),
        "TransactionMessageAttempts": ConfigKey("3", kind="int"),
        "TransactionMessageRetryInterval": ConfigKey("60", kind="int"),
        "WebSocketPingInterval": ConfigKey("20", kind="int"),
        "SupportedFeatureProfiles": ConfigKey("Core,RemoteTrigger", readonly=True),
        "ChargePointModel": ConfigKey(cfg.model, readonly=True),
        "AuthorizationKey": ConfigKey("", hidden=True),
    }


def _valid(entry: ConfigKey, value: str) -> bool:
    if entry.kind == "int":
        return value.isdigit()
    if entry.kind == "bool":
        return value.lower() in ("true", "false")
    return True


class Station16(SimStation, ChargePoint):  # type: ignore[misc]
    """OCPP 1.6J station: ``ocpp.v16.ChargePoint`` with the simulator's behaviour."""

    subprotocol = "ocpp1.6"

    def __init__(self, cfg: SimulationConfig, index: int) -> None:
        ChargePoint.__init__(self, cfg.station_id(index), None, cfg.response_timeout)
        self._init_station(cfg, index)
        self.configuration = default_configuration(cfg)
        self._remote_starts: list[tuple[Connector, str]] = []

    # --------------------------------------------------------------- outgoing
    async def boot_notification(self) -> tuple[str, float]:
        result = await self.request(
            call.BootNotification(
                charge_point_model=self.cfg.model,
                charge_point_vendor=self.cfg.vendor,
                charge_point_serial_number=self.station_id,
                firmware_version=self.cfg.firmware_version,
                meter_type="SimMeter",
            )
        )
        return str(result.status), float(result.interval)

    async def send_status(self, connector_id: int, status: str) -> None:
        await self.request(
            call.StatusNotification(
                connector_id=connector_id, error_code="NoError", status=status, timestamp=utc_now()
            )
        )

    async def send_all_status(self) -> None:
        await self.send_status(0, "Available" if self.operative else "Unavailable")
        await super().send_all_status()

    async def heartbeat(self) -> None:
        await self.request(call.Heartbeat())

    def connector_status(self, c: Connector) -> str:
        if c.busy:
            return "Charging" if c.transaction_id is not None else "Preparing"
        return "Available" if c.operative and self.operative else "Unavailable"

    def sample(self, c: Connector, context: str) -> dict[str, Any]:
        m = c.meter
        values: list[dict[str, Any]] = [
            {
                "value": f"{m.register_wh:.0f}",
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "location": "Outlet",
                "unit": "Wh",
            }
        ]
        if context != "Transaction.End":
            values.append(
                {
                    "value": f"{m.power_w:.0f}",
                    "context": context,
                    "measurand": "Power.Active.Import",
                    "location": "Outlet",
                    "unit": "W",
                }
            )
            values.append(
                {
                    "value": f"{m.soc:.0f}",
                    "context": context,
                    "measurand": "SoC",
                    "location": "EV",
                    "unit": "Percent",
                }
            )
        return {"timestamp": utc_now(), "sampled_value": values}

    async def send_meter_values(self, c: Connector, context: str = "Sample.Periodic") -> None:
        tx = c.transaction_id if isinstance(c.transaction_id, int) else None
        await self.request(
            call.MeterValues(
                connector_id=c.connector_id,
                transaction_id=tx,
                meter_value=[self.sample(c, context)],
            )
        )

    async def charge(
        self, c: Connector, id_tag: str, *, remote: bool, remote_start_id: int | None
    ) -> None:
        if not remote or self.configuration["AuthorizeRemoteTxRequests"].value == "true":
            auth = await self.request(call.Authorize(id_tag=id_tag))
            status = auth.id_tag_info["status"]
            if status != "Accepted":
                self.error(f"Authorize {id_tag}: {status}")
                return
        c.id_tag = id_tag
        c.meter.plug_in()
        await self.send_status(c.connector_id, "Preparing")
        meter_start = round(c.meter.register_wh)
        begin = self.sample(c, "Transaction.Begin")
        started = await self.request(
            call.StartTransaction(
                connector_id=c.connector_id,
                id_tag=id_tag,
                meter_start=meter_start,
                timestamp=utc_now(),
            )
        )
        c.transaction_id = int(started.transaction_id)
        self.report.sessions_started += 1
        if started.id_tag_info["status"] == "Accepted":
            c.status = "Charging"
            await self.send_status(c.connector_id, "Charging")
            await self.meter_loop(c, lambda: self.send_meter_values(c))
        else:
            c.request_stop("DeAuthorized")
        meter_stop = round(c.meter.register_wh)
        await self.request(
            call.StopTransaction(
                meter_stop=meter_stop,
                timestamp=utc_now(),
                transaction_id=c.transaction_id,
                reason=c.stop_reason or "Local",
                id_tag=id_tag,
                transaction_data=[begin, self.sample(c, "Transaction.End")],
            )
        )
        self.report.sessions_completed += 1
        self.report.energy_wh += meter_stop - meter_start
        c.status = "Finishing"
        await self.send_status(c.connector_id, "Finishing")

    # ------------------------------------------------- commands from the CSMS
    def _connector_for_tx(self, transaction_id: int) -> Connector | None:
        for c in self.connectors.values():
            if c.busy and c.transaction_id == transaction_id:
                return c
        return None

    @on("RemoteStartTransaction")
    def on_remote_start_transaction(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> Any:
        if connector_id is None:
            free = [c for c in self.connectors.values() if not c.busy and c.operative]
            target = free[0] if free else None
        else:
            target = self.connectors.get(connector_id)
        if target is None or target.busy or not target.operative or not self.operative:
            return call_result.RemoteStartTransaction(status="Rejected")
        target.busy = True  # reserved until the session task takes over
        self._remote_starts.append((target, id_tag))
        return call_result.RemoteStartTransaction(status="Accepted")

    @after("RemoteStartTransaction")
    def after_remote_start_transaction(self, **_: Any) -> None:
        while self._remote_starts:
            target, id_tag = self._remote_starts.pop(0)
            self.start_session(target, id_tag, remote=True)

    @on("RemoteStopTransaction")
    def on_remote_stop_transaction(self, transaction_id: int, **_: Any) -> Any:
        found = self._connector_for_tx(transaction_id) is not None
        return call_result.RemoteStopTransaction(status="Accepted" if found else "Rejected")

    @after("RemoteStopTransaction")
    def after_remote_stop_transaction(self, transaction_id: int, **_: Any) -> None:
        c = self._connector_for_tx(transaction_id)
        if c is not None:
            c.request_stop("Remote")

    @on("Reset")
    def on_reset(self, type: str, **_: Any) -> Any:
        return call_result.Reset(status="Accepted")

    @after("Reset")
    def after_reset(self, type: str, **_: Any) -> None:
        reason = "HardReset" if type == "Hard" else "SoftReset"
        if self.cfg.reconnect_on_reset:
            self._reset_type = type
            self._wake.set()
        else:
            for c in self.connectors.values():
                if c.busy:
                    c.request_stop(reason)

    @on("UnlockConnector")
    def on_unlock_connector(self, connector_id: int, **_: Any) -> Any:
        if connector_id not in self.connectors:
            return call_result.UnlockConnector(status="NotSupported")
        return call_result.UnlockConnector(status="Unlocked")

    @after("UnlockConnector")
    def after_unlock_connector(self, connector_id: int, **_: Any) -> None:
        c = self.connectors.get(connector_id)
        if c is not None and c.busy:
            c.request_stop("UnlockCommand")

    @on("ChangeAvailability")
    def on_change_availability(self, connector_id: int, type: str, **_: Any) -> Any:
        operative = type == "Operative"
        if connector_id == 0:
            targets = list(self.connectors.values())
            self.operative = operative
        elif connector_id in self.connectors:
            targets = [self.connectors[connector_id]]
        else:
            return call_result.ChangeAvailability(status="Rejected")
        for c in targets:
            c.operative = operative
        scheduled = any(c.busy for c in targets) and not operative
        return call_result.ChangeAvailability(status="Scheduled" if scheduled else "Accepted")

    @after("ChangeAvailability")
    def after_change_availability(self, connector_id: int, **_: Any) -> None:
        if connector_id == 0:
            self.spawn(self.send_all_status(), "StatusNotification")
        elif (c := self.connectors.get(connector_id)) is not None and not c.busy:
            self.spawn(self.send_status(c.connector_id, self.connector_status(c)), "status")

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        wanted = key if key else [k for k, v in self.configuration.items() if not v.hidden]
        known: list[dict[str, Any]] = []
        unknown: list[str] = []
        for name in wanted:
            entry = self.configuration.get(name)
            if entry is None or entry.hidden:
                unknown.append(name)
            else:
                known.append({"key": name, "readonly": entry.readonly, "value": entry.value})
        return call_result.GetConfiguration(
            configuration_key=known or None, unknown_key=unknown or None
        )

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        entry = self.configuration.get(key)
        if entry is None:
            return call_result.ChangeConfiguration(status="NotSupported")
        if entry.readonly or not _valid(entry, value):
            return call_result.ChangeConfiguration(status="Rejected")
        entry.value = value
        if key == "HeartbeatInterval" and int(value) > 0:
            self.heartbeat_interval = float(value)
        elif key == "MeterValueSampleInterval" and int(value) > 0:
            self.meter_interval = float(value)
        return call_result.ChangeConfiguration(status="Accepted")

    _TRIGGERABLE = (
        "BootNotification",
        "Heartbeat",
        "StatusNotification",
        "MeterValues",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
    )

    @on("TriggerMessage")
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> Any:
        if requested_message not in self._TRIGGERABLE:
            return call_result.TriggerMessage(status="NotImplemented")
        if connector_id is not None and connector_id not in self.connectors:
            return call_result.TriggerMessage(status="Rejected")
        return call_result.TriggerMessage(status="Accepted")

    @after("TriggerMessage")
    def after_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> None:
        if requested_message not in self._TRIGGERABLE:
            return
        if connector_id is not None and connector_id not in self.connectors:
            return
        self.spawn(self._triggered(requested_message, connector_id), requested_message)

    async def _triggered(self, message: str, connector_id: int | None) -> None:
        targets = (
            [self.connectors[connector_id]]
            if connector_id is not None
            else list(self.connectors.values())
        )
        if message == "BootNotification":
            await self.boot_notification()
        elif message == "Heartbeat":
            await self.heartbeat()
        elif message == "StatusNotification":
            if connector_id is None:
                await self.send_all_status()
            else:
                await self.send_status(connector_id, self.connector_status(targets[0]))
        elif message == "MeterValues":
            for c in targets:
                await self.send_meter_values(c, "Trigger")
        elif message == "DiagnosticsStatusNotification":
            await self.request(call.DiagnosticsStatusNotification(status="Idle"))
        else:
            await self.request(call.FirmwareStatusNotification(status="Idle"))

    @on("ClearCache")
    def on_clear_cache(self, **_: Any) -> Any:
        return call_result.ClearCache(status="Accepted")

    @on("DataTransfer")
    def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None, **_: Any
    ) -> Any:
        if vendor_id != DEMO_VENDOR:
            return call_result.DataTransfer(status="UnknownVendorId")
        if message_id != "Echo":
            return call_result.DataTransfer(status="UnknownMessageId")
        return call_result.DataTransfer(status="Accepted", data=data)
