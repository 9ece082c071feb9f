"""What an operator asks a station to install, whatever version it speaks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from borne.commands.results import CommandResult


@dataclass(frozen=True, kw_only=True)
class FirmwareSpec:
    location: str
    retrieve_at: datetime
    install_at: datetime | None = None
    signing_certificate: str | None = None  # PEM of the certificate that signed the image
    signature: str | None = None  # base64 signature of the image
    retries: int | None = None  # how often the station retries the download
    retry_interval_s: int | None = None

    @property
    def signed(self) -> bool:
        return self.signature is not None or self.signing_certificate is not None


@dataclass(frozen=True, kw_only=True)
class FirmwareResult(CommandResult):
    request_id: int  # what the station's status notifications carry (2.0.1, 1.6 signed)


@dataclass(frozen=True, kw_only=True)
class PublishSpec:
    """A firmware file a 2.0.1 Local Controller downloads and serves to its stations (L03)."""

    location: str
    checksum: str  # MD5 of the file, 32 hexadecimal digits
    retries: int | None = None
    retry_interval_s: int | None = None
