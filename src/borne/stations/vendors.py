"""DataTransfer routing: vendor extensions register a handler for their ``vendorId``.

One ``VendorRegistry`` is built by ``bootstrap`` and shared by the 1.6 and 2.0.1 translators, so
a vendor extension (or Plug & Charge over 1.6, vendor ``org.openchargealliance.iso15118pnc``)
is written once for both versions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from borne.stations.unit import Unit

DataTransferStatus = Literal["Accepted", "Rejected", "UnknownMessageId", "UnknownVendorId"]
DATA_TRANSFER_STATUSES = frozenset(get_args(DataTransferStatus))


@dataclass(frozen=True)
class DataTransferRequestInfo:
    station_id: str
    ocpp_version: str
    vendor_id: str
    message_id: str | None
    # 1.6: a string or None; 2.0.1: any JSON value.
    data: Any


@dataclass(frozen=True)
class DataTransferReply:
    status: DataTransferStatus
    data: Any = None

    def __post_init__(self) -> None:
        if self.status not in DATA_TRANSFER_STATUSES:
            raise ValueError(f"not a DataTransfer status: {self.status}")


VendorHandler = Callable[[Unit, DataTransferRequestInfo], Awaitable[DataTransferReply]]


@dataclass(frozen=True)
class _Entry:
    handler: VendorHandler
    message_ids: frozenset[str] | None


class VendorRegistry:
    """``registry.register_vendor_handler("com.acme", handle)``.

    The handler runs inside the unit of work of the DataTransfer (it may write) and returns the
    reply. With ``message_ids`` given, other message ids are answered ``UnknownMessageId``
    without calling it; otherwise the handler answers ``UnknownMessageId`` itself.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def register_vendor_handler(
        self,
        vendor_id: str,
        handler: VendorHandler,
        *,
        message_ids: Iterable[str] | None = None,
    ) -> None:
        if not vendor_id:
            raise ValueError("vendor_id must not be empty")
        if vendor_id in self._entries:
            raise ValueError(f"vendor {vendor_id} already has a DataTransfer handler")
        ids = None if message_ids is None else frozenset(message_ids)
        self._entries[vendor_id] = _Entry(handler, ids)

    def knows(self, vendor_id: str) -> bool:
        return vendor_id in self._entries

    @property
    def vendors(self) -> frozenset[str]:
        return frozenset(self._entries)

    async def dispatch(self, unit: Unit, request: DataTransferRequestInfo) -> DataTransferReply:
        entry = self._entries.get(request.vendor_id)
        if entry is None:
            return DataTransferReply("UnknownVendorId")
        if entry.message_ids is not None and request.message_id not in entry.message_ids:
            return DataTransferReply("UnknownMessageId")
        return await entry.handler(unit, request)
