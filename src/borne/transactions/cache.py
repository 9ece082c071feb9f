"""A bounded in-memory map from (station id, transaction id) to what the hot path needs.

Filled and refreshed only after a commit (work items must stay re-runnable). It is a hint: a miss
costs one SELECT, and a stale entry only affects plausibility flags, never stored state, because
state changes are guarded in SQL.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from borne.transactions.samples import Window

Key = tuple[str, str]


@dataclass(frozen=True)
class TxInfo:
    pk: int
    ended: bool
    started_at: datetime | None
    stopped_at: datetime | None
    meter_start_wh: Decimal | None
    last_energy_at: datetime | None = None
    last_energy_wh: Decimal | None = None
    charging_state: str | None = None
    id_token: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None

    @property
    def window(self) -> Window:
        return Window(
            self.started_at,
            self.stopped_at,
            self.meter_start_wh,
            self.last_energy_at,
            self.last_energy_wh,
        )


class TxCache:
    def __init__(self, max_entries: int = 50_000) -> None:
        self._entries: OrderedDict[Key, TxInfo] = OrderedDict()
        self._max = max_entries

    def get(self, key: Key) -> TxInfo | None:
        info = self._entries.get(key)
        if info is not None:
            self._entries.move_to_end(key)
        return info

    def put(self, key: Key, info: TxInfo | None) -> None:
        if info is None:
            return
        self._entries[key] = info
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def discard(self, key: Key) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
