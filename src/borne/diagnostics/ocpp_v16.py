"""OCPP 1.6 translator of the diagnostics commands: GetDiagnostics, and GetLog of the security
whitepaper. Their progress arrives in DiagnosticsStatusNotification / LogStatusNotification,
which the stations domain serves and publishes (``StationNotificationReceived``)."""

from __future__ import annotations

from borne.commands.results import base, build, send
from borne.diagnostics.results import LogParameters, LogResult
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.v16 import models as v16
from borne.ocpp.versions import OcppVersion

VERSION = OcppVersion.V16


async def get_diagnostics(
    outbound: OcppOutbound, station_id: str, params: LogParameters, call_timeout: float | None
) -> LogResult:
    request = build(
        v16.GetDiagnosticsRequest,
        location=params.location,
        retries=params.retries,
        retry_interval=params.retry_interval,
        start_time=params.oldest,
        stop_time=params.latest,
    )
    answer = await send(outbound, station_id, request, v16.GetDiagnosticsResponse, call_timeout)
    # No file name means the station has no diagnostics to upload.
    status = "Accepted" if answer.file_name else "NoFile"
    return LogResult(
        **base(station_id, VERSION, "GetDiagnostics", answer, status), filename=answer.file_name
    )


async def get_log(
    outbound: OcppOutbound, station_id: str, params: LogParameters, call_timeout: float | None
) -> LogResult:
    request = build(
        v16.GetLogRequest,
        log=build(
            v16.LogParametersType,
            remote_location=params.location,
            oldest_timestamp=params.oldest,
            latest_timestamp=params.latest,
        ),
        log_type=params.log_type,
        request_id=params.request_id,
        retries=params.retries,
        retry_interval=params.retry_interval,
    )
    answer = await send(outbound, station_id, request, v16.GetLogResponse, call_timeout)
    return LogResult(
        **base(station_id, VERSION, "GetLog", answer, answer.status), filename=answer.filename
    )
