"""A bounded in-memory map from (station id, transaction id) to what the hot path needs.

Filled and refreshed only after a commit (work items must stay re-runnable). It is a hint: a miss
costs one SELECT, and a stale entry only affects plausibility flags, never stored state, because
state changes are guarded in SQL.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

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


# seqNos tracked per transaction below the highest one seen; older ones are checked in SQL.
SEQ_WINDOW = 256
SeqState = Literal["new", "duplicate", "pending", "unknown"]


class SeqTracker:
    """Which 2.0.1 seqNos of one transaction are committed, so the hot path needs no query.

    Built from the event log (the highest ``SEQ_WINDOW`` seqNos), then updated only after each
    commit. Every seqNo above ``high - SEQ_WINDOW`` that was ever committed is in ``seen``, so
    such a seqNo not in ``seen`` is new; below that window the answer is ``"unknown"`` and the
    caller falls back to the database check. A seqNo being committed right now is ``pending``:
    its duplicate waits for the outcome instead of guessing.
    """

    __slots__ = ("high", "pending", "seen")

    def __init__(self, seq_nos: Iterable[int]) -> None:
        seqs = list(seq_nos)
        self.high = max(seqs, default=-1)
        self.seen = {n for n in seqs if n > self.high - SEQ_WINDOW}
        self.pending: dict[int, asyncio.Future[None]] = {}

    def classify(self, seq_no: int) -> SeqState:
        if seq_no in self.seen:
            return "duplicate"
        if seq_no in self.pending:
            return "pending"
        if seq_no > self.high - SEQ_WINDOW:
            return "new"
        return "unknown"

    def reserve(self, seq_no: int) -> None:
        self.pending[seq_no] = asyncio.get_running_loop().create_future()

    def release(self, seq_no: int, *, committed: bool) -> None:
        fut = self.pending.pop(seq_no, None)
        if committed:
            self.seen.add(seq_no)
            if seq_no > self.high:
                self.high = seq_no
                if len(self.seen) > 2 * SEQ_WINDOW:
                    floor = self.high - SEQ_WINDOW
                    self.seen = {n for n in self.seen if n > floor}
        if fut is not None and not fut.done():
            fut.set_result(None)


class TxCache:
    def __init__(self, max_entries: int = 50_000) -> None:
        self._entries: OrderedDict[Key, TxInfo] = OrderedDict()
        self._seqs: dict[Key, SeqTracker] = {}
        self._max = max_entries

    def seqs(self, key: Key) -> SeqTracker | None:
        return self._seqs.get(key)

    def put_seqs(self, key: Key, seq_nos: Iterable[int]) -> None:
        """Start tracking ``key``'s seqNos (its entry must be cached)."""
        if key in self._entries:
            self._seqs[key] = SeqTracker(seq_nos)

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
            old, _ = self._entries.popitem(last=False)
            self._seqs.pop(old, None)

    def discard(self, key: Key) -> None:
        self._entries.pop(key, None)
        self._seqs.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
