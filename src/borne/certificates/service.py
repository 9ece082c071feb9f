"""Certificate use cases on the database: issued certificates and their delivery, renewal due
dates, and the certificate ids installed per station. Callers own the unit of work."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from borne.certificates.events import CertificateIssued
from borne.certificates.hashdata import HashData
from borne.certificates.models import InstalledCertificate, IssuedCertificate
from borne.core.errors import NotFound
from borne.stations.models import Station
from borne.stations.unit import Page, Unit, check_page

STATION_CERTIFICATE = "ChargingStationCertificate"
V2G_CERTIFICATE = "V2GCertificate"
DELIVERY_STATUSES = frozenset({"Pending", "Accepted", "Rejected", "Failed"})


@dataclass(frozen=True)
class NewCertificate:
    station_id: str
    certificate_type: str
    serial_number: str
    subject: str
    not_before: datetime
    not_after: datetime
    certificate_pem: str


@dataclass(frozen=True)
class RenewalDue:
    certificate_id: int
    station_id: str
    certificate_type: str
    not_after: datetime


async def require_station(unit: Unit, station_id: str) -> Station:
    station = await unit.session.get(Station, station_id)
    if station is None:
        raise NotFound(f"station {station_id} not found", details={"station_id": station_id})
    return station


async def record_issued(unit: Unit, cert: NewCertificate, *, now: datetime) -> int:
    """Store a certificate just signed for a station (delivery pending); returns its id."""
    row = IssuedCertificate(
        station_id=cert.station_id,
        certificate_type=cert.certificate_type,
        serial_number=cert.serial_number,
        subject=cert.subject,
        not_before=cert.not_before,
        not_after=cert.not_after,
        certificate_pem=cert.certificate_pem,
        issued_at=now,
        delivery_status="Pending",
    )
    unit.session.add(row)
    await unit.session.flush()
    unit.add_event(
        CertificateIssued(
            station_id=cert.station_id,
            certificate_type=cert.certificate_type,
            serial_number=cert.serial_number,
            not_after=cert.not_after,
        )
    )
    return row.id


async def record_delivery(
    unit: Unit, *, certificate_id: int, status: str, now: datetime, detail: str | None = None
) -> None:
    """The station's answer to CertificateSigned, or ``Failed`` when it never got one."""
    if status not in DELIVERY_STATUSES:
        raise ValueError(f"unknown delivery status {status!r}")
    row = await unit.session.get(IssuedCertificate, certificate_id)
    if row is None:  # the station was deleted meanwhile
        return
    row.delivery_status = status
    row.delivery_detail = None if detail is None else detail[:255]
    row.delivered_at = now


async def due_for_renewal(
    unit: Unit, *, now: datetime, renew_before: timedelta, retry_after: timedelta
) -> list[RenewalDue]:
    """The newest accepted certificate of each station and type that expires within
    ``renew_before`` and was not asked to be renewed in the last ``retry_after``."""
    horizon = now + renew_before
    near = (
        await unit.session.scalars(
            select(IssuedCertificate).where(
                IssuedCertificate.delivery_status == "Accepted",
                IssuedCertificate.not_after <= horizon,
            )
        )
    ).all()
    if not near:
        return []
    # A newer accepted certificate of the same station and type supersedes a near one.
    stations = {c.station_id for c in near}
    newest: dict[tuple[str, str], IssuedCertificate] = {}
    for cert in (
        await unit.session.scalars(
            select(IssuedCertificate).where(
                IssuedCertificate.delivery_status == "Accepted",
                IssuedCertificate.station_id.in_(stations),
            )
        )
    ).all():
        key = (cert.station_id, cert.certificate_type)
        best = newest.get(key)
        if best is None or (cert.not_after, cert.id) > (best.not_after, best.id):
            newest[key] = cert
    return [
        RenewalDue(c.id, c.station_id, c.certificate_type, c.not_after)
        for c in newest.values()
        if c.not_after <= horizon
        and (c.renewal_requested_at is None or c.renewal_requested_at <= now - retry_after)
    ]


async def mark_renewal_requested(unit: Unit, *, certificate_id: int, now: datetime) -> None:
    row = await unit.session.get(IssuedCertificate, certificate_id)
    if row is not None:
        row.renewal_requested_at = now


async def list_issued(
    unit: Unit, *, station_id: str, offset: int = 0, limit: int = 50
) -> Page[IssuedCertificate]:
    check_page(offset, limit)
    await require_station(unit, station_id)
    where = IssuedCertificate.station_id == station_id
    total = await unit.session.scalar(select(func.count()).where(where)) or 0
    rows = (
        await unit.session.scalars(
            select(IssuedCertificate)
            .where(where)
            .order_by(IssuedCertificate.issued_at.desc(), IssuedCertificate.id.desc())
            .offset(offset)
            .limit(limit)
        )
    ).all()
    return Page(rows, total, offset, limit)


async def _installed(unit: Unit, station_id: str, data: HashData) -> InstalledCertificate | None:
    for row in (
        await unit.session.scalars(
            select(InstalledCertificate).where(
                InstalledCertificate.station_id == station_id,
                InstalledCertificate.hash_algorithm == data.hash_algorithm,
            )
        )
    ).all():
        if _hash_of(row).key == data.key:
            return row
    return None


def _hash_of(row: InstalledCertificate) -> HashData:
    return HashData(
        row.hash_algorithm, row.issuer_name_hash, row.issuer_key_hash, row.serial_number
    )


async def store_installed(
    unit: Unit,
    *,
    station_id: str,
    certificate_type: str,
    data: HashData,
    now: datetime,
    subject: str | None = None,
    source: str = "installed",
) -> None:
    """Remember a certificate installed on the station (an upsert by hash data)."""
    row = await _installed(unit, station_id, data)
    if row is None:
        row = InstalledCertificate(
            station_id=station_id,
            hash_algorithm=data.hash_algorithm,
            issuer_name_hash=data.issuer_name_hash.lower(),
            issuer_key_hash=data.issuer_key_hash.lower(),
            serial_number=data.key[3],
        )
        unit.session.add(row)
    row.certificate_type = certificate_type
    row.subject = subject if subject is not None else row.subject
    row.source = source
    row.updated_at = now
    await unit.session.flush()


async def remove_installed(unit: Unit, *, station_id: str, data: HashData) -> bool:
    row = await _installed(unit, station_id, data)
    if row is None:
        return False
    await unit.session.delete(row)
    await unit.session.flush()  # the session does not autoflush: later reads must not see it
    return True


async def replace_reported(
    unit: Unit,
    *,
    station_id: str,
    types: Iterable[str] | None,
    reported: Sequence[tuple[str, HashData]],
    now: datetime,
) -> None:
    """The station's GetInstalledCertificateIds answer is the truth for the types asked
    (every type when ``types`` is None): stored rows of those types are replaced by it,
    keeping the subject Borne knew for a certificate it installed."""
    query = select(InstalledCertificate).where(InstalledCertificate.station_id == station_id)
    asked = None if types is None else set(types)
    if asked is not None:
        query = query.where(InstalledCertificate.certificate_type.in_(asked))
    subjects = {_hash_of(r).key: r.subject for r in (await unit.session.scalars(query)).all()}
    stmt = delete(InstalledCertificate).where(InstalledCertificate.station_id == station_id)
    if asked is not None:
        stmt = stmt.where(InstalledCertificate.certificate_type.in_(asked))
    await unit.session.execute(stmt)
    for certificate_type, data in reported:
        await store_installed(
            unit,
            station_id=station_id,
            certificate_type=certificate_type,
            data=data,
            now=now,
            subject=subjects.get(data.key),
            source="reported",
        )


async def list_installed(unit: Unit, *, station_id: str) -> Sequence[InstalledCertificate]:
    await require_station(unit, station_id)
    return (
        await unit.session.scalars(
            select(InstalledCertificate)
            .where(InstalledCertificate.station_id == station_id)
            .order_by(InstalledCertificate.certificate_type, InstalledCertificate.id)
        )
    ).all()
