"""Operator API of tariffs: ``/api/v1/tariffs`` and ``/api/v1/stations/{id}/prices``.

* ``POST /tariffs`` (201), ``GET /tariffs``, ``GET/PUT/PATCH/DELETE /tariffs/{id}``: stored
  tariffs; bodies are ``{"tariff": <OCPI Tariff 2.2.1 or 2.3.0>, "partner", "token_group",
  "ad_hoc"}``; answers carry the OCPI object in 2.3.0 (or ``?version=2.2.1``) shape.
* ``POST /tariffs/validate``: checks without storing (200 ``ok`` or 422 with the errors).
* ``POST /tariffs/preview`` and ``POST /tariffs/{id}/preview``: the priced breakdown of a session.
* ``GET/PUT/DELETE /tariffs/{id}/assignments``: where a tariff applies.
* ``GET /stations/{station_id}/prices``: what a driver would pay on each connector now.

Refused tariffs → 422 ``invalid_input`` with ``details.errors = [{field, reason}]`` (fields of
the OCPI object, e.g. ``elements[1].restrictions.start_time``); malformed envelopes → 422
``validation_error``; unknown ids → 404; conflicts → 409. Bodies and answers keep numbers
exact (Decimal in, Decimal out).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ValidationError

from borne.api_context import ApiContext, get_context
from borne.api_errors import error_responses
from borne.authorization import service as authorization
from borne.core.errors import BorneError, InvalidInput, NotFound
from borne.locations import service as locations
from borne.stations import admin as stations_admin
from borne.tariffs import service
from borne.tariffs.ocpi_tariff import OcpiVersion, detect_version, tariff_to_ocpi
from borne.tariffs.pricing import price_session
from borne.tariffs.schemas import (
    AssignmentIn,
    AssignmentOut,
    ConnectorPriceOut,
    ExactJSONResponse,
    PageOut,
    PreviewIn,
    PreviewOut,
    StationPricesOut,
    TariffIn,
    TariffOut,
    TariffPatch,
    TariffRefOut,
    ValidationOut,
)
from borne.tariffs.service import AssignmentTarget
from borne.tariffs.transparency import price_now

M = TypeVar("M", bound=BaseModel)
RecordId = Annotated[int, Path(ge=1, le=2**53, description="Borne's tariff record id")]
Version = Annotated[OcpiVersion, Query(description="shape of the OCPI object in the answer")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=service.MAX_PAGE)]
StationId = Annotated[str, Path(min_length=1, max_length=48, pattern=r"^[\x21-\x39\x3b-\x7e]+$")]
Context = Annotated[ApiContext, Depends(get_context)]
_BODY = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}

router = APIRouter(tags=["tariffs"], responses=error_responses(401, 422))


class MalformedJson(BorneError):
    code = "malformed_json"
    http_status = 400


async def _body(request: Request, model: type[M]) -> M:
    """The request body read exactly (numbers as Decimal), then checked against ``model``."""
    raw = await request.body()
    try:
        data = json.loads(raw, parse_float=Decimal)
    except ValueError as exc:
        raise MalformedJson(
            "the request body is not valid JSON", details={"loc": ["body"], "reason": str(exc)}
        ) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for e in errors:
            e["loc"] = ("body", *e["loc"])
        raise RequestValidationError(errors) from None


def _exact(model: BaseModel, status_code: int = 200) -> ExactJSONResponse:
    return ExactJSONResponse(model.model_dump(), status_code=status_code)


def _docs(model: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model}, **error_responses(*statuses)}


# --------------------------------------------------------------------------- CRUD


@router.post(
    "/tariffs",
    status_code=status.HTTP_201_CREATED,
    summary="Store a tariff (OCPI 2.2.1 or 2.3.0 JSON)",
    response_class=ExactJSONResponse,
    responses={201: {"model": TariffOut}, **error_responses(409)},
    openapi_extra={"requestBody": _BODY},
)
async def create_tariff(request: Request, ctx: Context) -> Response:
    body = await _body(request, TariffIn)
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.create_tariff(
            uow,
            data=body.tariff,
            version=body.version,
            partner=body.partner,
            token_group=body.token_group,
            ad_hoc=body.ad_hoc,
            now=ctx.deps.clock.now(),
        )
        await uow.commit()
    response = _exact(TariffOut.of(view), status.HTTP_201_CREATED)
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{view.record_id}"
    return response


@router.get(
    "/tariffs",
    summary="List stored tariffs, by record id",
    response_class=ExactJSONResponse,
    responses=_docs(PageOut[TariffOut]),
)
async def list_tariffs(
    ctx: Context,
    *,
    offset: Offset = 0,
    limit: Limit = 50,
    ad_hoc: bool | None = None,
    partner: Annotated[str | None, Query(max_length=6)] = None,
    token_group: Annotated[str | None, Query(max_length=255)] = None,
    ocpi_id: Annotated[str | None, Query(max_length=36)] = None,
    version: Version = "2.3.0",
) -> Response:
    async with ctx.deps.db.unit_of_work() as uow:
        page = await service.list_tariffs(
            uow,
            offset=offset,
            limit=limit,
            ad_hoc=ad_hoc,
            partner=partner,
            token_group=token_group,
            ocpi_id=ocpi_id,
        )
    return _exact(
        PageOut[TariffOut](
            items=[TariffOut.of(v, version) for v in page.items],
            total=page.total,
            offset=offset,
            limit=limit,
        )
    )


@router.post(
    "/tariffs/validate",
    summary="Check a tariff without storing it",
    description="200 with `ok` and the canonical form, or 422 naming every offending field.",
    response_class=ExactJSONResponse,
    responses=_docs(ValidationOut),
    openapi_extra={"requestBody": _BODY},
)
async def validate_tariff(request: Request) -> Response:
    body = await _body(request, TariffIn)
    tariff = service.check_tariff(
        body.tariff,
        body.version,
        partner=body.partner,
        token_group=body.token_group,
        ad_hoc=body.ad_hoc,
    )
    detected = body.version or detect_version(body.tariff)
    return _exact(
        ValidationOut(ok=True, detected_version=detected, tariff=tariff_to_ocpi(tariff, "2.3.0"))
    )


async def _preview(ctx: ApiContext, body: PreviewIn, record_id: int | None) -> Response:
    usage = body.session_usage()
    async with ctx.deps.db.unit_of_work() as uow:
        if record_id is not None:
            tariff = (await service.get_tariff(uow, record_id=record_id)).tariff
        elif body.tariff is not None:
            tariff = service.check_tariff(body.tariff, body.version)
        else:
            raise InvalidInput(
                "invalid preview: tariff: give tariff or tariff_id",
                details={"errors": [{"field": "tariff", "reason": "give tariff or tariff_id"}]},
            )
        if body.time_zone is not None:
            time_zone = locations.check_time_zone(body.time_zone)
        elif body.location_id is not None:
            time_zone = await locations.get_time_zone(uow, location_id=body.location_id)
        elif body.station_id is not None:
            await stations_admin.get_station(uow, station_id=body.station_id)
            time_zone = await locations.location_time_zone(uow.session, body.station_id)
        else:
            time_zone = locations.DEFAULT_TIME_ZONE
    priced = price_session(tariff, usage, time_zone)
    return _exact(PreviewOut.of(priced, record_id))


@router.post(
    "/tariffs/preview",
    summary="Price a session under a tariff (inline or stored), without storing anything",
    response_class=ExactJSONResponse,
    responses=_docs(PreviewOut, 404),
    openapi_extra={"requestBody": _BODY},
)
async def preview(request: Request, ctx: Context) -> Response:
    body = await _body(request, PreviewIn)
    if body.tariff is not None and body.tariff_id is not None:
        raise InvalidInput(
            "invalid preview: give tariff or tariff_id, not both",
            details={"errors": [{"field": "tariff_id", "reason": "give tariff or tariff_id"}]},
        )
    return await _preview(ctx, body, body.tariff_id)


@router.get(
    "/tariffs/{record_id}",
    summary="A stored tariff and its assignments",
    response_class=ExactJSONResponse,
    responses=_docs(TariffOut, 404),
)
async def get_tariff(record_id: RecordId, ctx: Context, version: Version = "2.3.0") -> Response:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.get_tariff(uow, record_id=record_id)
    return _exact(TariffOut.of(view, version))


@router.put(
    "/tariffs/{record_id}",
    summary="Replace a tariff and its scope (same OCPI id)",
    response_class=ExactJSONResponse,
    responses=_docs(TariffOut, 404, 409),
    openapi_extra={"requestBody": _BODY},
)
async def replace_tariff(record_id: RecordId, request: Request, ctx: Context) -> Response:
    body = await _body(request, TariffIn)
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.update_tariff(
            uow,
            record_id=record_id,
            now=ctx.deps.clock.now(),
            data=body.tariff,
            version=body.version,
            partner=body.partner,
            token_group=body.token_group,
            ad_hoc=body.ad_hoc,
        )
        await uow.commit()
    return _exact(TariffOut.of(view))


@router.patch(
    "/tariffs/{record_id}",
    summary="Change a tariff's OCPI object and/or scope",
    response_class=ExactJSONResponse,
    responses=_docs(TariffOut, 404, 409),
    openapi_extra={"requestBody": _BODY},
)
async def patch_tariff(record_id: RecordId, request: Request, ctx: Context) -> Response:
    body = await _body(request, TariffPatch)
    given = body.model_fields_set
    unset = service.UNSET
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.update_tariff(
            uow,
            record_id=record_id,
            now=ctx.deps.clock.now(),
            data=body.tariff if body.tariff is not None else unset,
            version=body.version,
            partner=body.partner if "partner" in given else unset,
            token_group=body.token_group if "token_group" in given else unset,
            ad_hoc=body.ad_hoc if body.ad_hoc is not None else unset,
        )
        await uow.commit()
    return _exact(TariffOut.of(view))


@router.delete(
    "/tariffs/{record_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a tariff",
    description="Refused (409) while the tariff is assigned anywhere.",
    responses=error_responses(404, 409),
)
async def delete_tariff(record_id: RecordId, ctx: Context) -> None:
    async with ctx.deps.db.unit_of_work() as uow:
        await service.delete_tariff(uow, record_id=record_id)
        await uow.commit()


@router.post(
    "/tariffs/{record_id}/preview",
    summary="Price a session under a stored tariff",
    response_class=ExactJSONResponse,
    responses=_docs(PreviewOut, 404),
    openapi_extra={"requestBody": _BODY},
)
async def preview_stored(record_id: RecordId, request: Request, ctx: Context) -> Response:
    body = await _body(request, PreviewIn)
    if body.tariff is not None or body.tariff_id is not None:
        raise InvalidInput(
            "invalid preview: the tariff is the one in the URL",
            details={"errors": [{"field": "tariff", "reason": "not with /tariffs/{id}/preview"}]},
        )
    return await _preview(ctx, body, record_id)


# --------------------------------------------------------------------------- assignments


@router.get(
    "/tariffs/{record_id}/assignments",
    summary="Where a tariff is assigned",
    responses=error_responses(404),
)
async def list_assignments(record_id: RecordId, ctx: Context) -> list[AssignmentOut]:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.get_tariff(uow, record_id=record_id)
    return [AssignmentOut.of(a) for a in view.assignments]


@router.put(
    "/tariffs/{record_id}/assignments",
    summary="Assign a tariff to a connector, an EVSE, a location, or as the network default",
    description="Idempotent. The network default takes an ad hoc tariff only.",
    responses=error_responses(404),
)
async def assign_tariff(record_id: RecordId, body: AssignmentIn, ctx: Context) -> AssignmentOut:
    async with ctx.deps.db.unit_of_work() as uow:
        view = await service.assign_tariff(
            uow, record_id=record_id, target=body.target(), now=ctx.deps.clock.now()
        )
        await uow.commit()
    return AssignmentOut.of(view)


@router.delete(
    "/tariffs/{record_id}/assignments",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Take a tariff off a target (same target fields as PUT, as query parameters)",
    responses=error_responses(404),
)
async def unassign_tariff(
    record_id: RecordId,
    ctx: Context,
    *,
    location_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
    station_id: Annotated[str | None, Query(min_length=1, max_length=48)] = None,
    evse_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    connector_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    default: bool = False,
) -> None:
    target = AssignmentTarget(location_id, station_id, evse_id, connector_id, default)
    async with ctx.deps.db.unit_of_work() as uow:
        await service.unassign_tariff(uow, record_id=record_id, target=target)
        await uow.commit()


# --------------------------------------------------------------------------- transparency


@router.get(
    "/stations/{station_id}/prices",
    summary="What a driver would pay on each connector for a session starting now",
    description="Per connector (known from EVSE descriptors and reported statuses): the tariff "
    "that applies, prices per kWh, per minute of charging and of parking, the start fee, "
    "limits, VAT, the changes within the next hours, and a one-line text. `id_token` prices "
    "for its token group; `at` evaluates another instant.",
    response_class=ExactJSONResponse,
    responses=_docs(StationPricesOut, 404),
)
async def station_prices(
    station_id: StationId,
    ctx: Context,
    id_token: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    partner: Annotated[str | None, Query(max_length=6)] = None,
    at: Annotated[AwareDatetime | None, Query()] = None,
) -> Response:
    when: datetime = at or ctx.deps.clock.now()
    party = service.normalise_partner(partner)
    async with ctx.deps.db.unit_of_work() as uow:
        statuses = await stations_admin.list_connector_statuses(uow, station_id=station_id)
        group: str | None = None
        if id_token is not None:
            token = await authorization.find_token(uow.session, id_token)
            if token is None:
                raise NotFound("unknown id token", details={"id_token": id_token})
            group = token.group_id_token
        descriptors = {
            (c.evse_id, c.connector_id): c
            for c in await locations.station_connectors(uow.session, station_id)
        }
        status_of = {(s.evse_id, s.connector_id): s.status for s in statuses if s.evse_id > 0}
        keys = sorted(set(descriptors) | set(status_of))
        resolutions = {
            key: await service.resolve(
                uow.session,
                station_id=station_id,
                evse_id=key[0],
                connector_id=key[1],
                at=when,
                token_group=group,
                partner=party,
            )
            for key in keys
        }
        time_zone = await locations.location_time_zone(uow.session, station_id)
    connectors = []
    for key in keys:
        found = resolutions[key]
        descriptor = descriptors.get(key)
        power = None if descriptor is None else Decimal(descriptor.max_power_w) / 1000
        current = None if descriptor is None else Decimal(descriptor.max_amperage)
        now = None
        ref = None
        if found is not None:
            tariff = found.resolved.tariff
            now = price_now(
                tariff,
                found.resolved.time_zone,
                when,
                max_power_kw=power,
                max_current_a=current,
            )
            ref = TariffRefOut(
                id=found.resolved.record_id,
                ocpi_id=tariff.id,
                level=found.level,
                partner=found.partner,
                token_group=found.token_group,
                ad_hoc=found.ad_hoc,
            )
        connectors.append(
            ConnectorPriceOut.of(
                evse_id=key[0],
                connector_id=key[1],
                status=status_of.get(key),
                descriptor=descriptor,
                max_power_kw=power,
                tariff=ref,
                time_zone=time_zone,
                currency=None if found is None else found.resolved.tariff.currency,
                tax_included=None
                if found is None or found.resolved.tariff.tax_included is None
                else found.resolved.tariff.tax_included.value,
                now=now,
            )
        )
    return _exact(
        StationPricesOut(
            station_id=station_id,
            at=when,
            token_group=group,
            partner=party,
            connectors=connectors,
        )
    )
