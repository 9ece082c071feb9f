"""SendLocalList, GetLocalListVersion and the list limits, in each OCPP version's words.

1.6 idTag holds 20 characters, 2.0.1 idToken 36: longer tokens are not sent (see
``local_lists.entry_of``). A removal is an entry without its idTagInfo / idTokenInfo.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast

from borne.authorization.local_lists import ListEntry, Removal
from borne.commands import service as commands
from borne.commands.results import VariableGet, VariableRef, send
from borne.core.errors import InvalidInput, StationNotConnected
from borne.ocpp.outbound import OcppOutbound
from borne.ocpp.v16 import models as v16
from borne.ocpp.v201 import models as v201
from borne.ocpp.versions import OcppVersion

Status16 = Literal["Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"]
TOKEN_LENGTH = {OcppVersion.V16: 20, OcppVersion.V201: 36}


def version_of(outbound: OcppOutbound, station_id: str) -> OcppVersion:
    version = outbound.version_of(station_id)
    if version is None:
        raise StationNotConnected(f"station {station_id} is not connected")
    if version not in TOKEN_LENGTH:
        raise InvalidInput(f"local lists are not supported over {version}")
    return version


def _v16_item(e: ListEntry) -> v16.LocalAuthorizationList:
    # 1.6 has no Expired status for an idTag that is not expired yet: the station reads the date.
    return v16.LocalAuthorizationList(
        id_tag=e.id_token,
        id_tag_info=v16.IdTagInfo(
            status=cast(Status16, e.status),
            expiry_date=e.expiry_date,
            parent_id_tag=e.group_id_token,
        ),
    )


def id_token_info(e: ListEntry, *, group_type: str | None = None) -> v201.IdTokenInfoType:
    """2.0.1 idTokenInfo of a token (Authorize answers and local list entries share it)."""
    message = None
    if e.personal_message:
        message = v201.MessageContentType(
            format="UTF8", language=e.personal_message_language, content=e.personal_message
        )
    group = None
    if e.group_id_token is not None:
        group = v201.IdTokenType(
            id_token=e.group_id_token, type=cast(v201.IdTokenEnumType, group_type or "Central")
        )
    return v201.IdTokenInfoType(
        status=cast(v201.AuthorizationStatusEnumType, e.status),
        cache_expiry_date_time=e.expiry_date,
        group_id_token=group,
        language1=e.language1,
        personal_message=message,
    )


def _v201_item(e: ListEntry) -> v201.AuthorizationData:
    return v201.AuthorizationData(
        id_token=v201.IdTokenType(id_token=e.id_token, type=cast(v201.IdTokenEnumType, e.type)),
        id_token_info=id_token_info(e),
    )


def _v201_removal(r: Removal) -> v201.AuthorizationData:
    kind = cast(v201.IdTokenEnumType, r.type)
    return v201.AuthorizationData(id_token=v201.IdTokenType(id_token=r.id_token, type=kind))


async def send_local_list(
    outbound: OcppOutbound,
    station_id: str,
    version: OcppVersion,
    *,
    list_version: int,
    full: bool,
    upserts: Sequence[ListEntry],
    removals: Sequence[Removal],
    call_timeout: float | None = None,
) -> str:
    """One SendLocalList; the station's status (Accepted, Failed, VersionMismatch,
    NotSupported)."""
    update_type = "Full" if full else "Differential"
    if version is OcppVersion.V16:
        items16 = [_v16_item(e) for e in upserts] + [
            v16.LocalAuthorizationList(id_tag=r.id_token) for r in removals
        ]
        request16 = v16.SendLocalListRequest(
            list_version=list_version,
            update_type=update_type,
            local_authorization_list=items16 or None,
        )
        answer16 = await send(
            outbound, station_id, request16, v16.SendLocalListResponse, call_timeout
        )
        return answer16.status
    items = [_v201_item(e) for e in upserts] + [_v201_removal(r) for r in removals]
    request = v201.SendLocalListRequest(
        version_number=list_version,
        update_type=update_type,
        local_authorization_list=items or None,
    )
    answer = await send(outbound, station_id, request, v201.SendLocalListResponse, call_timeout)
    return answer.status


async def get_local_list_version(
    outbound: OcppOutbound, station_id: str, *, call_timeout: float | None = None
) -> int:
    if version_of(outbound, station_id) is OcppVersion.V16:
        a16 = await send(
            outbound,
            station_id,
            v16.GetLocalListVersionRequest(),
            v16.GetLocalListVersionResponse,
            call_timeout,
        )
        return a16.list_version
    a201 = await send(
        outbound,
        station_id,
        v201.GetLocalListVersionRequest(),
        v201.GetLocalListVersionResponse,
        call_timeout,
    )
    return a201.version_number


def _int(value: str | None) -> int | None:
    try:
        number = int(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number > 0 else None


async def read_limits(
    outbound: OcppOutbound, station_id: str, version: OcppVersion
) -> tuple[int | None, int | None]:
    """(list capacity, entries per SendLocalList) as the station reports them; None where it
    does not say. 1.6: ``LocalAuthListMaxLength``, ``SendLocalListMaxLength``; 2.0.1:
    ``LocalAuthListCtrlr.ItemsPerMessage`` (its capacity is a characteristic, not read here)."""
    if version is OcppVersion.V16:
        config = await commands.get_configuration(
            outbound, station_id, keys=["LocalAuthListMaxLength", "SendLocalListMaxLength"]
        )
        values = {e.key: e.value for e in config.entries}
        return _int(values.get("LocalAuthListMaxLength")), _int(
            values.get("SendLocalListMaxLength")
        )
    result = await commands.get_variables(
        outbound,
        station_id,
        items=[VariableGet(VariableRef("LocalAuthListCtrlr", "ItemsPerMessage"))],
    )
    per_message = next((_int(o.value) for o in result.results if o.status == "Accepted"), None)
    return None, per_message
