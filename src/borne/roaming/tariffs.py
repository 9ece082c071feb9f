"""OCPI Tariffs module, CPO sender side: which stored tariffs a partner sees, in which shape.

Visibility ("per partner where they differ"): a tariff scoped to a roaming partner (``partner``
``CC*PPP`` of :mod:`borne.tariffs.models`) is shown only to the OCPI partner that announced
that party; unscoped tariffs are shown to every partner, including one that has tariffs of its
own (they still apply wherever no partner tariff is assigned, and Locations reference them).
Tariffs scoped to an id token group are never published: OCPI cannot say "for this group
only", so a partner would apply the price to all its drivers.

Mapping: the stored canonical tariff (:mod:`borne.tariffs.ocpi_tariff`) is written by
``tariff_to_ocpi`` in the partner's version, under Borne's CPO identity (``country_code``,
``party_id``) with the record's ``last_updated``; an ad hoc tariff without a ``type`` is
typed ``AD_HOC_PAYMENT`` so partners know it is not their drivers' price. A tax-inclusive
tariff (2.3.0 ``tax_included=YES``) has no exact 2.2.1 form: it is left out of 2.2.1 answers
and pushes rather than rounded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from borne.core.errors import InvalidInput
from borne.ocpi.envelope import ocpi_datetime
from borne.tariffs.models import TariffRecord
from borne.tariffs.ocpi_tariff import OcpiVersion, TariffType, tariff_to_ocpi
from borne.tariffs.service import load_tariff

log = logging.getLogger(__name__)

MODULE = "tariffs"


@dataclass(frozen=True)
class CpoIdentity:
    """Borne's own party: the owner written into every Tariff object."""

    country_code: str
    party_id: str


def party_keys(roles: Iterable[Any]) -> frozenset[str]:
    """``CC*PPP`` keys (the tariffs domain's partner scope) of a partner's roles; accepts any
    object with ``country_code`` and ``party_id`` (``PartyRole``, ``RoleSpec``)."""
    return frozenset(f"{r.country_code}*{r.party_id}".upper() for r in roles)


def visible_to(record: TariffRecord, keys: frozenset[str]) -> bool:
    """Whether the partner owning ``keys`` sees ``record`` (see the module docstring)."""
    if record.token_group is not None:
        return False
    return record.partner is None or record.partner.upper() in keys


def object_key(ocpi_id: str, me: CpoIdentity) -> str:
    """Outbox ordering key of one OCPI tariff object."""
    return f"{MODULE}:{me.country_code}/{me.party_id}/{ocpi_id}"


def object_path(ocpi_id: str, me: CpoIdentity) -> str:
    """Path under the partner's tariffs receiver endpoint."""
    return f"/{me.country_code}/{me.party_id}/{ocpi_id}"


def tariff_object(record: TariffRecord, version: str, me: CpoIdentity) -> dict[str, Any] | None:
    """The OCPI Tariff object of ``record`` in ``version``; None when it has no exact form in
    that version. Numbers stay Decimal; DateTimes are OCPI strings (UTC, seconds, ``Z``)."""
    tariff = load_tariff(record.body, record.origin_version)
    update: dict[str, Any] = {
        "country_code": me.country_code,
        "party_id": me.party_id,
        "last_updated": record.last_updated,
    }
    if record.ad_hoc and tariff.type is None:
        update["type"] = TariffType.AD_HOC_PAYMENT
    shape: OcpiVersion = "2.2.1" if version == "2.2.1" else "2.3.0"
    try:
        out = tariff_to_ocpi(tariff.model_copy(update=update), shape)
    except InvalidInput:
        log.info("tariff %s has no %s form: not published in that version", record.id, shape)
        return None
    for key in ("start_date_time", "end_date_time"):
        value: datetime | None = getattr(tariff, key)
        if value is not None:
            out[key] = ocpi_datetime(value)
    out["last_updated"] = ocpi_datetime(record.last_updated)
    return out


async def list_for_party(
    session: AsyncSession,
    *,
    version: str,
    keys: frozenset[str],
    me: CpoIdentity,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> list[dict[str, Any]]:
    """Every tariff the partner sees, in ``version``, ordered by ``last_updated`` then record
    id, with ``last_updated`` in [date_from, date_to). Tariffs are few (tens): the filtering on
    the version's expressibility is done here and the caller slices the page."""
    r = TariffRecord
    query = select(r).where(r.token_group.is_(None))
    scope = [r.partner.is_(None)]
    if keys:
        scope.append(r.partner.in_(sorted(keys)))
    query = query.where(or_(*scope))
    if date_from is not None:
        query = query.where(r.last_updated >= date_from)
    if date_to is not None:
        query = query.where(r.last_updated < date_to)
    rows = await session.scalars(query.order_by(r.last_updated, r.id))
    out = []
    for record in rows:
        obj = tariff_object(record, version, me)
        if obj is not None:
            out.append(obj)
    return out
