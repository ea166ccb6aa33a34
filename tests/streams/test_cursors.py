"""Offset cursors: replays skipped, holes named and filled, absent offsets skipped - no broker."""

from __future__ import annotations

from streams.cursors import CursorBatch, Gap, OffsetCursors, cursor_key, parse_cursor, splice
from streams.runtime import InputRecord


def rec(offset: int, partition: int = 0, topic: str = "t") -> InputRecord:
    return InputRecord(topic, partition, offset, b"k", b"{}", 0)


def offsets(batch: CursorBatch | list[InputRecord]) -> list[int]:
    records = batch.records if isinstance(batch, CursorBatch) else batch
    return [r.offset for r in records]


def test_fresh_partition_processes_everything_and_persists_the_next_offset() -> None:
    cur = OffsetCursors(lambda t, p: None)
    records = [rec(5), rec(6), rec(7, partition=1)]
    assert cur.gaps(records) == []
    assert offsets(cur.filter(records)) == [5, 6, 7]
    assert cur.pop_dirty() == {0: {cursor_key("t", 0): b"7"}, 1: {cursor_key("t", 1): b"8"}}
    assert cur.pop_dirty() == {}  # written once


def test_replayed_records_below_the_persisted_cursor_are_skipped() -> None:
    cur = OffsetCursors(lambda t, p: 3)
    records = [rec(1), rec(2), rec(3), rec(4)]
    assert cur.gaps(records) == []
    batch = cur.filter(records)
    assert offsets(batch) == [3, 4] and batch.replays == 2


def test_records_missing_after_the_cursor_are_named_and_spliced_back_in_order() -> None:
    # partition 0's cursor is 10; the consumer handed out 10, then 13: 11 and 12 are missing
    cur = OffsetCursors(lambda t, p: 10 if p == 0 else None)
    records = [rec(10), rec(13), rec(20, partition=1), rec(14)]
    gaps = cur.gaps(records)
    assert gaps == [Gap(1, "t", 0, 11, 13)]
    filled = splice(records, [(gaps[0], [rec(11), rec(12)])])
    assert [(r.partition, r.offset) for r in filled] == [(0, 10), (0, 11), (0, 12), (0, 13), (1, 20), (0, 14)]
    batch = cur.filter(filled)
    assert offsets(batch) == [10, 11, 12, 13, 20, 14] and not batch.absent and not batch.replays
    assert cur.pop_dirty() == {0: {cursor_key("t", 0): b"15"}, 1: {cursor_key("t", 1): b"21"}}


def test_a_gap_at_the_first_record_after_a_takeover_is_found() -> None:
    # the committed offset ran ahead of the state: the new owner starts at 40, the state at 31
    cur = OffsetCursors(lambda t, p: 31)
    assert cur.gaps([rec(40), rec(41)]) == [Gap(0, "t", 0, 31, 40)]


def test_offsets_not_in_the_topic_are_skipped_as_absent() -> None:
    cur = OffsetCursors(lambda t, p: 7)
    records = [rec(9), rec(10)]
    gap = cur.gaps(records)[0]
    filled = splice(records, [(gap, [rec(8)])])  # 7 is a transaction marker: not a record
    batch = cur.filter(filled)
    assert offsets(batch) == [8, 9, 10] and batch.absent == [("t", 0, 7, 7)]


def test_splice_keeps_only_the_fetched_records_inside_the_gap() -> None:
    gap = Gap(1, "t", 0, 2, 4)
    out = splice([rec(1), rec(4)], [(gap, [rec(0), rec(2), rec(3), rec(4), rec(9)])])
    assert offsets(out) == [1, 2, 3, 4]


def test_forget_rereads_cursors_after_a_rebalance() -> None:
    stored = {("t", 0): 4}
    cur = OffsetCursors(lambda t, p: stored.get((t, p)))
    assert offsets(cur.filter([rec(4), rec(5)])) == [4, 5]
    stored[("t", 0)] = 100  # the partition moved away and came back with newer state
    cur.forget()
    batch = cur.filter([rec(6), rec(100)])
    assert offsets(batch) == [100] and batch.replays == 1


def test_a_cursor_past_the_partition_end_starts_again_for_a_recreated_topic() -> None:
    cur = OffsetCursors(lambda t, p: 5000, highwater=lambda t, p: 3)
    records = [rec(0), rec(1), rec(2)]
    assert cur.gaps(records) == []
    batch = cur.filter(records)
    assert offsets(batch) == [0, 1, 2] and batch.resets == [("t", 0, 5000, 0)]
    assert cur.pop_dirty() == {0: {cursor_key("t", 0): b"3"}}
    # an ordinary replay (cursor within the partition) is still skipped
    cur = OffsetCursors(lambda t, p: 2, highwater=lambda t, p: 10)
    assert offsets(cur.filter([rec(1), rec(2)])) == [2]


def test_parse_cursor_rejects_garbage() -> None:
    assert parse_cursor(b"12") == 12
    assert parse_cursor(b"") is None and parse_cursor(b"abc") is None and parse_cursor(None) is None
