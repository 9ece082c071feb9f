"""OCPP 1.6 StartTransaction, StopTransaction and MeterValues → transaction services.

1.6 has no EVSE: a connector is recorded as both ``connector_id`` and ``evse_id`` (a 1.6
connector is what 2.0.1 calls an EVSE), so reports group the same way for both versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from borne.authorization._answer import pre_authorize
from borne.authorization.external import ExternalAuthorizer
from borne.core.deps import Deps
from borne.core.group_commit import Batch
from borne.ocpp.context import CallContext
from borne.ocpp.router import Router
from borne.ocpp.v16 import models as v16
from borne.transactions import service
from borne.transactions.cache import TxCache
from borne.transactions.meter_values import MeterValuesResult, Owner
from borne.transactions.models import ENERGY_REGISTER
from borne.transactions.samples import SampleIn, as_utc, parse_decimal


def samples_of(values: Sequence[v16.MeterValue | v16.TransactionData]) -> list[SampleIn]:
    out = []
    for mv in values:
        ts = as_utc(mv.timestamp)
        for sv in mv.sampled_value:
            signed = sv.format == "SignedData"
            out.append(
                SampleIn(
                    timestamp=ts,
                    raw_value=sv.value,
                    value=None if signed else parse_decimal(sv.value),
                    measurand=sv.measurand or ENERGY_REGISTER,
                    phase=sv.phase,
                    location=sv.location,
                    unit=sv.unit,
                    context=sv.context,
                    format=sv.format,
                )
            )
    return out


def id_tag_info(auth: service.Authorization) -> v16.IdTagInfo:
    status = auth.status if auth.status in _STATUSES else "Invalid"
    return v16.IdTagInfo(
        status=status,
        expiry_date=auth.expiry_date,
        parent_id_tag=auth.group_id_token,
    )


_STATUSES = frozenset({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"})


def register(router: Router, deps: Deps, external: ExternalAuthorizer | None = None) -> None:
    cache = TxCache()
    version = str(router.version)

    async def start_transaction(
        ctx: CallContext, req: v16.StartTransactionRequest
    ) -> v16.StartTransactionResponse:
        now = deps.clock.now()
        start = service.StartIn(
            station_id=ctx.station_id,
            ocpp_version=version,
            connector_id=req.connector_id,
            evse_id=req.connector_id,
            id_token=req.id_tag,
            meter_start_wh=Decimal(req.meter_start),
            timestamp=as_utc(req.timestamp),
            reservation_id=req.reservation_id,
            external=external,
        )
        if external is not None:  # a start without Authorize: ask outside the batch
            await pre_authorize(
                deps.db,
                external,
                req.id_tag,
                token_type=None,
                station_id=ctx.station_id,
                evse_id=req.connector_id,
                now=now,
            )

        async def work(batch: Batch) -> service.StartResult:
            return await service.start_transaction(batch, start, now=now)

        result = await deps.committer.submit(work)
        cache.put((ctx.station_id, result.transaction_id), result.info)
        return v16.StartTransactionResponse(
            id_tag_info=id_tag_info(result.auth), transaction_id=result.ocpp16_id
        )

    async def stop_transaction(
        ctx: CallContext, req: v16.StopTransactionRequest
    ) -> v16.StopTransactionResponse:
        now = deps.clock.now()
        stop = service.StopIn(
            station_id=ctx.station_id,
            ocpp_version=version,
            transaction_id=str(req.transaction_id),
            id_token=req.id_tag,
            meter_stop_wh=Decimal(req.meter_stop),
            timestamp=as_utc(req.timestamp),
            reason=req.reason or "Local",
            samples=samples_of(req.transaction_data or ()),
        )

        async def work(batch: Batch) -> service.StopResult:
            return await service.stop_transaction(batch, stop, now=now)

        result = await deps.committer.submit(work)
        cache.put((ctx.station_id, stop.transaction_id), result.info)
        return v16.StopTransactionResponse(
            id_tag_info=None if result.auth is None else id_tag_info(result.auth)
        )

    async def meter_values(
        ctx: CallContext, req: v16.MeterValuesRequest
    ) -> v16.MeterValuesResponse:
        now = deps.clock.now()
        tx_id = None if req.transaction_id is None else str(req.transaction_id)
        owner = Owner(ctx.station_id, req.connector_id, req.connector_id, tx_id)
        key = (ctx.station_id, tx_id or "")
        cached = None if tx_id is None else cache.get(key)
        samples = samples_of(req.meter_value)

        async def work(batch: Batch) -> MeterValuesResult:
            return await service.record_meter_values(batch, owner, samples, now=now, cached=cached)

        result = await deps.committer.submit(work)
        if tx_id is not None:
            cache.put(key, result.info)
        return v16.MeterValuesResponse()

    router.register("StartTransaction", start_transaction)
    router.register("StopTransaction", stop_transaction)
    router.register("MeterValues", meter_values)
