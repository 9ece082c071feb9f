"""Diagnostics use cases: each finds the station's OCPP version, stores what must exist before
the station can act on the request (log requests, customer information requests), sends the
command through that version's translator and records the answer.

Log uploads go to Borne itself: each log request gets an unguessable upload token (only its
SHA-256 is stored) that expires after ``upload_token_ttl_s``; ``uploads`` receives the file.

Errors as in ``borne.commands.service``: 409 not connected, 422 invalid input or a command the
version lacks, 502 CALLERROR, 503 queue full, 504 no answer.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from borne.commands.ocpp_v201 import new_request_id
from borne.commands.results import CommandResult, IdTokenKind, ReportResult, VariableRef
from borne.core.deps import Deps
from borne.core.errors import BorneError, InvalidInput, StationNotConnected
from borne.diagnostics import ocpp_v16, ocpp_v201, store
from borne.diagnostics.config import DiagnosticsConfig
from borne.diagnostics.models import (
    CALL_FAILED,
    REQUESTED,
    CustomerInformationRequest,
    LogRequest,
)
from borne.diagnostics.results import (
    ClearMonitorsResult,
    LogAction,
    LogParameters,
    LogResult,
    LogType,
    MonitoringBase,
    MonitoringCriterion,
    MonitorSet,
    SetMonitorsResult,
)
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.versions import OcppVersion


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _version(outbound: OcppOutbound, station_id: str) -> OcppVersion:
    version = outbound.version_of(station_id)
    if version is None:
        raise StationNotConnected(f"station {station_id} is not connected")
    return version


def _require_v201(outbound: OcppOutbound, station_id: str, action: str) -> None:
    if _version(outbound, station_id) is not OcppVersion.V201:
        raise InvalidInput(f"{action} exists only in OCPP 2.0.1")


def _upload_window(
    config: DiagnosticsConfig, retries: int | None, retry_interval: int | None
) -> timedelta:
    """The configured lifetime, stretched to cover every retry the station was allowed."""
    return timedelta(seconds=config.upload_token_ttl_s + (retries or 0) * (retry_interval or 0))


@dataclass(frozen=True)
class Diagnostics:
    """The use cases, bound to the runtime pieces they need."""

    deps: Deps
    outbound: OcppOutbound
    config: DiagnosticsConfig

    # -------------------------------------------------------------------------- logs

    async def request_log(
        self,
        station_id: str,
        *,
        log_type: LogType = "DiagnosticsLog",
        action: LogAction | None = None,
        oldest: datetime | None = None,
        latest: datetime | None = None,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> tuple[int, LogResult]:
        """GetDiagnostics or GetLog; returns the log request's id and the station's answer.

        Default action: GetDiagnostics for a 1.6 diagnostics log (every 1.6 station has it),
        GetLog otherwise (2.0.1, and the 1.6 security whitepaper's security log).
        """
        version = _version(self.outbound, station_id)
        if action is None:
            diagnostics = version is OcppVersion.V16 and log_type == "DiagnosticsLog"
            action = "GetDiagnostics" if diagnostics else "GetLog"
        if action == "GetDiagnostics" and version is not OcppVersion.V16:
            raise InvalidInput("GetDiagnostics exists only in OCPP 1.6: use GetLog")
        if action == "GetDiagnostics" and log_type != "DiagnosticsLog":
            raise InvalidInput("GetDiagnostics uploads the diagnostics log only: use GetLog")
        if oldest is not None and latest is not None and oldest > latest:
            raise InvalidInput("oldest_timestamp is after latest_timestamp")
        token = secrets.token_urlsafe(32)
        now = self.deps.clock.now()
        params = LogParameters(
            location=self.config.upload_location(token),
            request_id=new_request_id() if action == "GetLog" else None,
            log_type=log_type,
            oldest=oldest,
            latest=latest,
            retries=retries,
            retry_interval=retry_interval,
        )
        # Stored (and committed) first: a station may upload before its answer is read here.
        async with self.deps.db.unit_of_work() as uow:
            pk = await store.create_log_request(
                uow,
                LogRequest(
                    station_id=station_id,
                    ocpp_version=str(version),
                    action=action,
                    log_type=log_type,
                    request_id=params.request_id,
                    oldest_timestamp=oldest,
                    latest_timestamp=latest,
                    retries=retries,
                    retry_interval=retry_interval,
                    status=REQUESTED,
                    status_at=now,
                    token_hash=token_hash(token),
                    token_expires_at=now + _upload_window(self.config, retries, retry_interval),
                    created_at=now,
                ),
            )
            await uow.commit()
        timeout = self.config.call_timeout_s
        try:
            if action == "GetDiagnostics":
                result = await ocpp_v16.get_diagnostics(self.outbound, station_id, params, timeout)
            elif version is OcppVersion.V16:
                result = await ocpp_v16.get_log(self.outbound, station_id, params, timeout)
            else:
                result = await ocpp_v201.get_log(self.outbound, station_id, params, timeout)
        except BorneError as exc:
            await self._log_answer(pk, CALL_FAILED, exc.message, None)
            raise
        await self._log_answer(pk, result.status, result.reason, result.filename)
        return pk, result

    async def _log_answer(
        self, pk: int, status: str, info: str | None, filename: str | None
    ) -> None:
        async with self.deps.db.unit_of_work() as uow:
            await store.record_log_answer(
                uow,
                pk,
                status=status,
                status_info=info,
                filename=filename,
            )
            await uow.commit()

    # ------------------------------------------------------------ customer information

    async def customer_information(
        self,
        station_id: str,
        *,
        report: bool,
        clear: bool,
        customer_identifier: str | None = None,
        id_token: str | None = None,
        id_token_type: IdTokenKind | None = None,
        certificate: dict[str, str] | None = None,
    ) -> tuple[int, CommandResult]:
        _require_v201(self.outbound, station_id, "CustomerInformation")
        request_id = new_request_id()
        async with self.deps.db.unit_of_work() as uow:
            pk = await store.create_customer_information(
                uow,
                CustomerInformationRequest(
                    station_id=station_id,
                    request_id=request_id,
                    report=report,
                    clear=clear,
                    customer_identifier=customer_identifier,
                    id_token=id_token,
                    id_token_type=None if id_token is None else (id_token_type or "ISO14443"),
                    customer_certificate=certificate,
                    status=REQUESTED,
                    created_at=self.deps.clock.now(),
                ),
            )
            await uow.commit()
        try:
            result = await ocpp_v201.customer_information(
                self.outbound,
                station_id,
                request_id=request_id,
                report=report,
                clear=clear,
                customer_identifier=customer_identifier,
                id_token=id_token,
                id_token_type=id_token_type,
                certificate=certificate,
                call_timeout=self.config.call_timeout_s,
            )
        except BorneError as exc:
            await self._customer_status(pk, CALL_FAILED, exc.message)
            raise
        await self._customer_status(pk, result.status, result.reason)
        return pk, result

    async def _customer_status(self, pk: int, status: str, info: str | None) -> None:
        async with self.deps.db.unit_of_work() as uow:
            await store.set_customer_information_status(uow, pk, status=status, status_info=info)
            await uow.commit()

    # ---------------------------------------------------------------------- monitoring

    async def set_variable_monitoring(
        self, station_id: str, items: list[MonitorSet]
    ) -> SetMonitorsResult:
        _require_v201(self.outbound, station_id, "SetVariableMonitoring")
        result = await ocpp_v201.set_variable_monitoring(
            self.outbound, station_id, items, self.config.call_timeout_s
        )
        by_ref: dict[tuple[VariableRef, str, int], MonitorSet] = {
            (i.ref, i.type, i.severity): i for i in items
        }
        accepted = []
        for o in result.results:
            if o.status != "Accepted" or o.id is None:
                continue
            asked = by_ref.get((o.ref, o.type, o.severity))
            if asked is None:  # the station's echo does not match a request item
                continue
            accepted.append(
                store.MonitorIn(
                    monitor_id=o.id,
                    ref=o.ref,
                    type=o.type,
                    value=asked.value,
                    severity=o.severity,
                    transaction=asked.transaction,
                )
            )
        async with self.deps.db.unit_of_work() as uow:
            await store.upsert_monitors(
                uow,
                station_id=station_id,
                monitors=accepted,
                source="set",
                now=self.deps.clock.now(),
            )
            await uow.commit()
        return result

    async def clear_variable_monitoring(
        self, station_id: str, ids: list[int]
    ) -> ClearMonitorsResult:
        _require_v201(self.outbound, station_id, "ClearVariableMonitoring")
        result = await ocpp_v201.clear_variable_monitoring(
            self.outbound, station_id, ids, self.config.call_timeout_s
        )
        # NotFound: the station has no such monitor, so Borne should not list it either.
        gone = [o.id for o in result.results if o.status in ("Accepted", "NotFound")]
        async with self.deps.db.unit_of_work() as uow:
            await store.delete_monitors(uow, station_id=station_id, ids=gone)
            await uow.commit()
        return result

    async def set_monitoring_base(
        self, station_id: str, monitoring_base: MonitoringBase
    ) -> CommandResult:
        _require_v201(self.outbound, station_id, "SetMonitoringBase")
        result = await ocpp_v201.set_monitoring_base(
            self.outbound, station_id, monitoring_base, self.config.call_timeout_s
        )
        if result.status == "Accepted":
            async with self.deps.db.unit_of_work() as uow:
                await store.set_monitoring_settings(
                    uow,
                    station_id=station_id,
                    now=self.deps.clock.now(),
                    monitoring_base=monitoring_base,
                )
                await uow.commit()
        return result

    async def set_monitoring_level(self, station_id: str, severity: int) -> CommandResult:
        _require_v201(self.outbound, station_id, "SetMonitoringLevel")
        result = await ocpp_v201.set_monitoring_level(
            self.outbound, station_id, severity, self.config.call_timeout_s
        )
        if result.status == "Accepted":
            async with self.deps.db.unit_of_work() as uow:
                await store.set_monitoring_settings(
                    uow, station_id=station_id, now=self.deps.clock.now(), monitoring_level=severity
                )
                await uow.commit()
        return result

    async def get_monitoring_report(
        self,
        station_id: str,
        *,
        criteria: list[MonitoringCriterion] | None = None,
        refs: list[VariableRef] | None = None,
        request_id: int | None = None,
    ) -> ReportResult:
        """The monitors arrive in NotifyMonitoringReport, stored by ``ocpp_v201``."""
        _require_v201(self.outbound, station_id, "GetMonitoringReport")
        return await ocpp_v201.get_monitoring_report(
            self.outbound,
            station_id,
            request_id=new_request_id() if request_id is None else request_id,
            criteria=criteria,
            refs=refs,
            call_timeout=self.config.call_timeout_s,
        )
