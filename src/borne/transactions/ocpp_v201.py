"""OCPP 2.0.1 TransactionEvent and MeterValues → transaction services."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from borne.authorization._answer import pre_authorize
from borne.authorization.external import ExternalAuthorizer
from borne.core.deps import Deps
from borne.core.group_commit import Batch
from borne.ocpp.context import CallContext
from borne.ocpp.router import Router
from borne.ocpp.v201 import models as v201
from borne.transactions import service
from borne.transactions.cache import Key, TxCache
from borne.transactions.event_flow import TxEventIn, TxEventResult, record_transaction_event
from borne.transactions.meter_values import MeterValuesResult, Owner
from borne.transactions.models import ENERGY_REGISTER
from borne.transactions.samples import SampleIn, as_utc, number_text, parse_decimal

_STATUSES = frozenset({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"})


def samples_of(values: Sequence[v201.MeterValueType]) -> list[SampleIn]:
    out = []
    for mv in values:
        ts = as_utc(mv.timestamp)
        for sv in mv.sampled_value:
            raw = number_text(sv.value)
            uom = sv.unit_of_measure
            signed = sv.signed_meter_value
            out.append(
                SampleIn(
                    timestamp=ts,
                    raw_value=raw,
                    value=parse_decimal(raw),
                    measurand=sv.measurand or ENERGY_REGISTER,
                    phase=sv.phase,
                    location=sv.location,
                    unit=None if uom is None else uom.unit,
                    multiplier=None if uom is None else uom.multiplier,
                    context=sv.context,
                    signed=None if signed is None else signed.to_payload(),
                )
            )
    return out


def id_token_info(auth: service.Authorization) -> v201.IdTokenInfoType:
    """``groupIdToken`` carries type ``Central``: Borne's token list keeps the group's id only."""
    status = auth.status if auth.status in _STATUSES else "Invalid"
    group = (
        None
        if auth.group_id_token is None
        else v201.IdTokenType(id_token=auth.group_id_token, type="Central")
    )
    return v201.IdTokenInfoType(
        status=status,
        cache_expiry_date_time=auth.expiry_date,
        group_id_token=group,
    )


class TotalCostSource(Protocol):
    def total_cost(self, transaction_pk: int, *, final: bool = False) -> Decimal | None:
        """The session's cost including taxes, from memory; None when unknown. ``final``: only
        the final cost (its CDR issued), never a running one."""
        ...

    async def final_cost(self, transaction_pk: int, timeout_s: float) -> Decimal | None:
        """The final cost including taxes, waiting up to ``timeout_s`` for it to be known."""
        ...


_Handle = Callable[
    [CallContext, v201.TransactionEventRequest],
    Awaitable[tuple[v201.TransactionEventResponse, int]],
]


class TransactionEventHandler:
    """The TransactionEvent handler. Composition may attach a running-cost source
    (:func:`attach_total_cost`): the response then carries ``totalCost`` once it is known,
    read from memory, never queried on this hot path. Updated: the running cost; Ended: only
    the final cost (OCPP's meaning there), waited for up to ``final_wait_s`` after the commit
    (the CDR is issued by a subscriber meanwhile) and left out when it is not known by then."""

    def __init__(self, handle: _Handle) -> None:
        self._handle = handle
        self.total_cost: TotalCostSource | None = None
        self.final_wait_s = 0.0

    async def __call__(
        self, ctx: CallContext, req: v201.TransactionEventRequest
    ) -> v201.TransactionEventResponse:
        response, transaction_pk = await self._handle(ctx, req)
        if self.total_cost is not None:
            if req.event_type == "Ended":
                total = await self.total_cost.final_cost(transaction_pk, self.final_wait_s)
            else:
                total = self.total_cost.total_cost(transaction_pk)
            if total is not None:
                response.total_cost = float(total)
        return response


def attach_total_cost(
    router: Router, source: TotalCostSource, *, final_wait_s: float = 0.0
) -> None:
    """Fill ``totalCost`` of 2.0.1 TransactionEventResponses from ``source``; an Ended answer
    waits up to ``final_wait_s`` for the final cost."""
    handler = router.handler_for("TransactionEvent")
    if isinstance(handler, TransactionEventHandler):
        handler.total_cost = source
        handler.final_wait_s = final_wait_s


def register(router: Router, deps: Deps, external: ExternalAuthorizer | None = None) -> None:
    cache = TxCache()
    version = str(router.version)

    async def transaction_event(
        ctx: CallContext, req: v201.TransactionEventRequest
    ) -> tuple[v201.TransactionEventResponse, int]:
        now = deps.clock.now()
        info = req.transaction_info
        ev = TxEventIn(
            station_id=ctx.station_id,
            ocpp_version=version,
            transaction_id=info.transaction_id,
            event_type=req.event_type,
            seq_no=req.seq_no,
            timestamp=as_utc(req.timestamp),
            trigger_reason=req.trigger_reason,
            offline=bool(req.offline),
            evse_id=None if req.evse is None else req.evse.id,
            connector_id=None if req.evse is None else req.evse.connector_id,
            id_token=None if req.id_token is None else req.id_token.id_token,
            id_token_type=None if req.id_token is None else req.id_token.type,
            charging_state=info.charging_state,
            stopped_reason=info.stopped_reason,
            remote_start_id=info.remote_start_id,
            reservation_id=req.reservation_id,
            samples=samples_of(req.meter_value or ()),
            external=external,
        )
        if external is not None and ev.id_token and req.event_type != "Ended":
            # a token given without a prior Authorize (Started, or the usual Updated with
            # triggerReason Authorized after a cable-first start): ask outside the batch
            await pre_authorize(
                deps.db,
                external,
                ev.id_token,
                token_type=ev.id_token_type,
                station_id=ctx.station_id,
                evse_id=ev.evse_id,
                now=now,
            )
        key = (ctx.station_id, ev.transaction_id)
        result = await record(key, ev, now)
        response = v201.TransactionEventResponse(
            id_token_info=None if result.auth is None else id_token_info(result.auth)
        )
        return response, result.info.pk

    async def record(key: Key, ev: TxEventIn, now: datetime) -> TxEventResult:
        """Record ``ev``, taking the query-free path when the cache proves its seqNo new."""
        cached = cache.get(key)
        seqs = cache.seqs(key) if cached is not None and ev.event_type == "Updated" else None
        state = "unknown" if seqs is None else seqs.classify(ev.seq_no)
        while seqs is not None and state == "pending":
            # The same event is being committed from another connection: wait for its outcome.
            await asyncio.shield(seqs.pending[ev.seq_no])
            state = seqs.classify(ev.seq_no)
        if cached is not None and state == "duplicate" and not ev.id_token:
            return TxEventResult(None, cached, True)  # R14: acknowledged, nothing applied again
        seq_is_new = state == "new"

        async def work(batch: Batch) -> TxEventResult:
            return await record_transaction_event(
                batch, ev, now=now, cached=cached, seq_is_new=seq_is_new
            )

        if seqs is not None and seq_is_new:
            seqs.reserve(ev.seq_no)
            committed = False
            try:
                result = await deps.committer.submit(work)
                committed = True
            finally:
                seqs.release(ev.seq_no, committed=committed)
        else:
            result = await deps.committer.submit(work)
        cache.put(key, result.info)
        if result.seq_nos is not None:
            cache.put_seqs(key, result.seq_nos)
        return result

    async def meter_values(
        ctx: CallContext, req: v201.MeterValuesRequest
    ) -> v201.MeterValuesResponse:
        now = deps.clock.now()
        owner = Owner(ctx.station_id, req.evse_id, None)
        samples = samples_of(req.meter_value)

        async def work(batch: Batch) -> MeterValuesResult:
            return await service.record_meter_values(batch, owner, samples, now=now, cached=None)

        await deps.committer.submit(work)
        return v201.MeterValuesResponse()

    router.register("TransactionEvent", TransactionEventHandler(transaction_event))
    router.register("MeterValues", meter_values)
