"""Certificates Borne issued to stations, and the certificate ids installed on each station."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from borne.core.db import Base
from borne.core.types import UTCDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")
_STATION_FK = "stations.station_id"


class IssuedCertificate(Base):
    """One certificate Borne's CA signed for a station's CSR (SignCertificate).

    ``delivery_status``: ``Pending`` until the station answers CertificateSigned, then its
    answer (``Accepted``/``Rejected``) or ``Failed`` when the call did not get through. The
    renewal loop looks at the newest accepted certificate of each station and type.
    """

    __tablename__ = "issued_certificates"
    __table_args__ = (
        UniqueConstraint("serial_number", name="uq_issued_certificates_serial"),
        Index("ix_issued_certificates_station", "station_id", "certificate_type"),
        Index("ix_issued_certificates_not_after", "not_after"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"))
    # ChargingStationCertificate | V2GCertificate
    certificate_type: Mapped[str] = mapped_column(String(32))
    # Lower-case hex, as in OCPP's CertificateHashData.serialNumber.
    serial_number: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(255))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    certificate_pem: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivery_status: Mapped[str] = mapped_column(String(16), default="Pending")
    delivery_detail: Mapped[str | None] = mapped_column(String(255), default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # When the renewal loop last asked the station for a new CSR (None: never).
    renewal_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class InstalledCertificate(Base):
    """A certificate installed on a station, by its OCPP hash data: what Borne installed
    (InstallCertificate accepted) or what the station reported (GetInstalledCertificateIds)."""

    __tablename__ = "installed_certificates"
    __table_args__ = (
        UniqueConstraint(
            "station_id",
            "hash_algorithm",
            "issuer_name_hash",
            "issuer_key_hash",
            "serial_number",
            name="uq_installed_certificates_hash",
        ),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(
        String(48), ForeignKey(_STATION_FK, ondelete="CASCADE"), index=True
    )
    # 2.0.1 names (CSMSRootCertificate, V2GRootCertificate, MORootCertificate,
    # ManufacturerRootCertificate, V2GCertificateChain); 1.6 CentralSystemRootCertificate is
    # stored as CSMSRootCertificate.
    certificate_type: Mapped[str] = mapped_column(String(32))
    hash_algorithm: Mapped[str] = mapped_column(String(8))
    issuer_name_hash: Mapped[str] = mapped_column(String(128))
    issuer_key_hash: Mapped[str] = mapped_column(String(128))
    serial_number: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str | None] = mapped_column(String(255), default=None)
    # installed (by Borne) | reported (by the station)
    source: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
