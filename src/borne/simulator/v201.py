"""A simulated OCPP 2.0.1 charging station (one connector per EVSE)."""

from __future__ import annotations

import uuid
from typing import Any

from ocpp.v201 import ChargePoint, call, call_result

from borne.simulator._ocpp import after, on
from borne.simulator.config import SimulationConfig
from borne.simulator.device_model import (
    default_device_model,
    get_variable,
    report_data,
    set_variable,
)
from borne.simulator.ev import Connector, utc_now
from borne.simulator.station import SimStation
from borne.simulator.v16 import DEMO_VENDOR

# stop reason (1.6 vocabulary, used inside the simulator) -> (triggerReason, stoppedReason)
_ENDED: dict[str, tuple[str, str]] = {
    "Local": ("StopAuthorized", "Local"),
    "Remote": ("RemoteStop", "Remote"),
    "HardReset": ("ResetCommand", "ImmediateReset"),
    "SoftReset": ("ResetCommand", "ImmediateReset"),
    "UnlockCommand": ("UnlockCommand", "Other"),
    "DeAuthorized": ("Deauthorized", "DeAuthorized"),
}
REPORT_PAGE = 10


class Station201(SimStation, ChargePoint):  # type: ignore[misc]
    """OCPP 2.0.1 station: ``ocpp.v201.ChargePoint`` with the simulator's behaviour."""

    subprotocol = "ocpp2.0.1"

    def __init__(self, cfg: SimulationConfig, index: int) -> None:
        ChargePoint.__init__(self, cfg.station_id(index), None, cfg.response_timeout)
        self._init_station(cfg, index)
        self.device_model = default_device_model(cfg, self.station_id)
        self._remote_starts: list[tuple[Connector, str, int]] = []

    # --------------------------------------------------------------- outgoing
    async def boot_notification(self) -> tuple[str, float]:
        result = await self.request(
            call.BootNotification(
                charging_station={
                    "model": self.cfg.model,
                    "vendor_name": self.cfg.vendor,
                    "serial_number": self.station_id,
                    "firmware_version": self.cfg.firmware_version,
                },
                reason=self.boot_reason,
            )
        )
        return str(result.status), float(result.interval)

    async def send_status(self, connector_id: int, status: str) -> None:
        await self.request(
            call.StatusNotification(
                timestamp=utc_now(),
                connector_status=status,
                evse_id=connector_id,
                connector_id=1,
            )
        )

    async def heartbeat(self) -> None:
        await self.request(call.Heartbeat())

    def connector_status(self, c: Connector) -> str:
        if c.busy:
            return "Occupied"
        return "Available" if c.operative and self.operative else "Unavailable"

    def sample(self, c: Connector, context: str) -> dict[str, Any]:
        m = c.meter
        values: list[dict[str, Any]] = [
            {
                "value": round(m.register_wh, 1),
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "location": "Outlet",
                "unit_of_measure": {"unit": "Wh"},
            }
        ]
        if context != "Transaction.End":
            values.append(
                {
                    "value": round(m.power_w, 1),
                    "context": context,
                    "measurand": "Power.Active.Import",
                    "location": "Outlet",
                    "unit_of_measure": {"unit": "W"},
                }
            )
            values.append(
                {
                    "value": round(m.soc, 1),
                    "context": context,
                    "measurand": "SoC",
                    "location": "EV",
                    "unit_of_measure": {"unit": "Percent"},
                }
            )
        return {"timestamp": utc_now(), "sampled_value": values}

    def _id_token(self, id_tag: str) -> dict[str, str]:
        return {"id_token": id_tag, "type": "ISO14443"}

    async def transaction_event(
        self,
        c: Connector,
        event_type: str,
        trigger_reason: str,
        context: str,
        **extra: Any,
    ) -> Any:
        info: dict[str, Any] = {"transaction_id": c.transaction_id}
        info.update(extra.pop("info", {}))
        seq_no = c.seq_no
        c.seq_no += 1
        return await self.request(
            call.TransactionEvent(
                event_type=event_type,
                timestamp=utc_now(),
                trigger_reason=trigger_reason,
                seq_no=seq_no,
                transaction_info=info,
                meter_value=[self.sample(c, context)],
                **extra,
            )
        )

    async def charge(
        self, c: Connector, id_tag: str, *, remote: bool, remote_start_id: int | None
    ) -> None:
        authorize_remote = self.device_model[("AuthCtrlr", "AuthorizeRemoteStart")].value
        if not remote or authorize_remote == "true":
            auth = await self.request(call.Authorize(id_token=self._id_token(id_tag)))
            status = auth.id_token_info["status"]
            if status != "Accepted":
                self.error(f"Authorize {id_tag}: {status}")
                return
        c.id_tag = id_tag
        c.transaction_id = str(uuid.uuid4())
        c.seq_no = 0
        c.meter.plug_in()
        meter_start = c.meter.register_wh
        c.status = "Occupied"
        await self.send_status(c.connector_id, "Occupied")
        info: dict[str, Any] = {"charging_state": "Charging"}
        if remote_start_id is not None:
            info["remote_start_id"] = remote_start_id
        started = await self.transaction_event(
            c,
            "Started",
            "RemoteStart" if remote else "Authorized",
            "Transaction.Begin",
            info=info,
            id_token=self._id_token(id_tag),
            evse={"id": c.connector_id, "connector_id": 1},
        )
        self.report.sessions_started += 1
        token_info = started.id_token_info or {}
        if token_info.get("status", "Accepted") == "Accepted":

            async def updated() -> None:
                await self.transaction_event(c, "Updated", "MeterValuePeriodic", "Sample.Periodic")

            await self.meter_loop(c, updated)
        else:
            c.request_stop("DeAuthorized")
        trigger, stopped = _ENDED.get(c.stop_reason or "Local", ("StopAuthorized", "Other"))
        extra: dict[str, Any] = {}
        if trigger == "StopAuthorized":
            extra["id_token"] = self._id_token(id_tag)
        await self.transaction_event(
            c,
            "Ended",
            trigger,
            "Transaction.End",
            info={"charging_state": "EVConnected", "stopped_reason": stopped},
            **extra,
        )
        self.report.sessions_completed += 1
        self.report.energy_wh += c.meter.register_wh - meter_start

    # ------------------------------------------------- commands from the CSMS
    def _connector_for_tx(self, transaction_id: str) -> Connector | None:
        for c in self.connectors.values():
            if c.busy and c.transaction_id == transaction_id:
                return c
        return None

    @on("RequestStartTransaction")
    def on_request_start_transaction(
        self,
        id_token: dict[str, Any],
        remote_start_id: int,
        evse_id: int | None = None,
        **_: Any,
    ) -> Any:
        if evse_id is None:
            free = [c for c in self.connectors.values() if not c.busy and c.operative]
            target = free[0] if free else None
        else:
            target = self.connectors.get(evse_id)
        if target is None or target.busy or not target.operative or not self.operative:
            return call_result.RequestStartTransaction(status="Rejected")
        target.busy = True
        self._remote_starts.append((target, str(id_token["id_token"]), remote_start_id))
        return call_result.RequestStartTransaction(status="Accepted")

    @after("RequestStartTransaction")
    def after_request_start_transaction(self, **_: Any) -> None:
        while self._remote_starts:
            target, token, remote_start_id = self._remote_starts.pop(0)
            self.start_session(target, token, remote=True, remote_start_id=remote_start_id)

    @on("RequestStopTransaction")
    def on_request_stop_transaction(self, transaction_id: str, **_: Any) -> Any:
        found = self._connector_for_tx(transaction_id) is not None
        return call_result.RequestStopTransaction(status="Accepted" if found else "Rejected")

    @after("RequestStopTransaction")
    def after_request_stop_transaction(self, transaction_id: str, **_: Any) -> None:
        c = self._connector_for_tx(transaction_id)
        if c is not None:
            c.request_stop("Remote")

    def _charging(self) -> bool:
        return any(c.busy for c in self.connectors.values())

    @on("Reset")
    def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> Any:
        if evse_id is not None:
            return call_result.Reset(status="Rejected")  # EVSE-level reset not supported
        if type == "OnIdle" and self._charging():
            return call_result.Reset(status="Scheduled")
        return call_result.Reset(status="Accepted")

    @after("Reset")
    def after_reset(self, type: str, evse_id: int | None = None, **_: Any) -> None:
        if evse_id is None:
            self.spawn(self._reset(type), "Reset")

    async def _reset(self, type: str) -> None:
        if type == "OnIdle":
            await self._wait_idle()
        if self.cfg.reconnect_on_reset:
            self._reset_type = type
            self._wake.set()
        else:
            for c in self.connectors.values():
                if c.busy:
                    c.request_stop("HardReset")

    @on("UnlockConnector")
    def on_unlock_connector(self, evse_id: int, connector_id: int, **_: Any) -> Any:
        c = self.connectors.get(evse_id)
        if c is None or connector_id != 1:
            return call_result.UnlockConnector(status="UnknownConnector")
        if c.busy:
            return call_result.UnlockConnector(status="OngoingAuthorizedTransaction")
        return call_result.UnlockConnector(status="Unlocked")

    @on("ChangeAvailability")
    def on_change_availability(
        self, operational_status: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> Any:
        operative = operational_status == "Operative"
        if evse is None or evse.get("id", 0) == 0:
            targets = list(self.connectors.values())
            self.operative = operative
        elif evse["id"] in self.connectors:
            targets = [self.connectors[evse["id"]]]
        else:
            return call_result.ChangeAvailability(status="Rejected")
        for c in targets:
            c.operative = operative
        self.device_model[("ChargingStation", "AvailabilityState")].value = (
            "Available" if self.operative else "Unavailable"
        )
        scheduled = any(c.busy for c in targets) and not operative
        return call_result.ChangeAvailability(status="Scheduled" if scheduled else "Accepted")

    @after("ChangeAvailability")
    def after_change_availability(self, **_: Any) -> None:
        for c in self.connectors.values():
            status = self.connector_status(c)
            if status != c.status:
                c.status = status
                self.spawn(self.send_status(c.connector_id, status), "StatusNotification")

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        results = [get_variable(self.device_model, item) for item in get_variable_data]
        return call_result.GetVariables(get_variable_result=results)

    @on("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        results = [set_variable(self.device_model, item) for item in set_variable_data]
        heartbeat = int(self.device_model[("OCPPCommCtrlr", "HeartbeatInterval")].value)
        if heartbeat > 0:
            self.heartbeat_interval = float(heartbeat)
        interval = int(self.device_model[("SampledDataCtrlr", "TxUpdatedInterval")].value)
        if interval > 0 and any(
            r["variable"]["name"] == "TxUpdatedInterval" and r["attribute_status"] == "Accepted"
            for r in results
        ):
            self.meter_interval = float(interval)
        return call_result.SetVariables(set_variable_result=results)

    @on("GetBaseReport")
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> Any:
        return call_result.GetBaseReport(status="Accepted")

    @after("GetBaseReport")
    def after_get_base_report(self, request_id: int, report_base: str, **_: Any) -> None:
        self.spawn(self._notify_report(request_id, report_base), "NotifyReport")

    async def _notify_report(self, request_id: int, report_base: str) -> None:
        rows = report_data(self.device_model, report_base)
        generated_at = utc_now()
        pages = [rows[i : i + REPORT_PAGE] for i in range(0, len(rows), REPORT_PAGE)] or [[]]
        for seq_no, page in enumerate(pages):
            await self.request(
                call.NotifyReport(
                    request_id=request_id,
                    generated_at=generated_at,
                    seq_no=seq_no,
                    report_data=page or None,
                    tbc=seq_no < len(pages) - 1,
                )
            )

    _TRIGGERABLE = (
        "BootNotification",
        "Heartbeat",
        "StatusNotification",
        "MeterValues",
        "TransactionEvent",
    )

    @on("TriggerMessage")
    def on_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> Any:
        if requested_message not in self._TRIGGERABLE:
            return call_result.TriggerMessage(status="NotImplemented")
        if evse is not None and evse.get("id") not in self.connectors:
            return call_result.TriggerMessage(status="Rejected")
        if requested_message == "BootNotification" and self.booted:
            return call_result.TriggerMessage(status="Rejected")  # F06.FR.17
        return call_result.TriggerMessage(status="Accepted")

    @after("TriggerMessage")
    def after_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> None:
        if requested_message not in self._TRIGGERABLE:
            return
        if evse is not None and evse.get("id") not in self.connectors:
            return
        if requested_message == "BootNotification" and self.booted:
            return
        ids = [evse["id"]] if evse is not None else list(self.connectors)
        self.spawn(self._triggered(requested_message, ids), requested_message)

    async def _triggered(self, message: str, evse_ids: list[int]) -> None:
        targets = [self.connectors[i] for i in evse_ids]
        if message == "BootNotification":
            await self.boot_notification()
        elif message == "Heartbeat":
            await self.heartbeat()
        elif message == "StatusNotification":
            for c in targets:
                await self.send_status(c.connector_id, self.connector_status(c))
        elif message == "MeterValues":
            for c in targets:
                await self.request(
                    call.MeterValues(
                        evse_id=c.connector_id, meter_value=[self.sample(c, "Trigger")]
                    )
                )
        else:
            for c in targets:
                if c.busy and c.transaction_id is not None:
                    await self.transaction_event(c, "Updated", "Trigger", "Trigger")

    @on("ClearCache")
    def on_clear_cache(self, **_: Any) -> Any:
        return call_result.ClearCache(status="Accepted")

    @on("DataTransfer")
    def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: Any = None, **_: Any
    ) -> Any:
        if vendor_id != DEMO_VENDOR:
            return call_result.DataTransfer(status="UnknownVendorId")
        if message_id != "Echo":
            return call_result.DataTransfer(status="UnknownMessageId")
        return call_result.DataTransfer(status="Accepted", data=data)
