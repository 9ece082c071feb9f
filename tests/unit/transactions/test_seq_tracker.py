"""The in-memory seqNo tracker decides new/duplicate only where it knows every committed seqNo."""

from __future__ import annotations

from borne.transactions.cache import SEQ_WINDOW, SeqTracker, TxCache, TxInfo


def test_seen_seq_is_duplicate_and_unseen_in_window_is_new() -> None:
    t = SeqTracker([0, 1, 2])
    assert t.classify(1) == "duplicate"
    assert t.classify(3) == "new"
    assert t.classify(500) == "new"


def test_below_window_is_unknown_so_the_database_decides() -> None:
    t = SeqTracker([SEQ_WINDOW + 10])
    assert t.classify(5) == "unknown"


async def test_pending_until_released_then_duplicate_only_if_committed() -> None:
    t = SeqTracker([0])
    t.reserve(1)
    assert t.classify(1) == "pending"
    waiter = t.pending[1]
    t.release(1, committed=False)
    assert waiter.done()
    assert t.classify(1) == "new"  # the failed commit stored nothing: a retry must apply
    t.reserve(1)
    t.release(1, committed=True)
    assert t.classify(1) == "duplicate"


async def test_window_is_pruned_but_recent_seqs_stay_known() -> None:
    t = SeqTracker([])
    for n in range(3 * SEQ_WINDOW):
        t.reserve(n)
        t.release(n, committed=True)
    assert len(t.seen) <= 2 * SEQ_WINDOW
    assert t.classify(3 * SEQ_WINDOW - 1) == "duplicate"
    assert t.classify(3) == "unknown"


def test_cache_tracks_seqs_only_for_cached_transactions_and_evicts_together() -> None:
    cache = TxCache(max_entries=1)
    info = TxInfo(pk=1, ended=False, started_at=None, stopped_at=None, meter_start_wh=None)
    cache.put_seqs(("CP", "a"), [1])
    assert cache.seqs(("CP", "a")) is None  # no entry, no tracker
    cache.put(("CP", "a"), info)
    cache.put_seqs(("CP", "a"), [1])
    assert cache.seqs(("CP", "a")) is not None
    cache.put(("CP", "b"), info)  # evicts a
    assert cache.seqs(("CP", "a")) is None
