"""Offset cursors: replays skipped, gaps re-read, absent offsets accepted - no broker needed."""

from __future__ import annotations

from streams.cursors import OffsetCursors, cursor_key, parse_cursor
from streams.runtime import InputRecord


def rec(offset: int, partition: int = 0, topic: str = "t") -> InputRecord:
    return InputRecord(topic, partition, offset, b"k", b"{}", 0)


class Clock:
    def __init__(self) -> None:
        self.s = 0.0

    def __call__(self) -> float:
        return self.s


def offsets(batch) -> list[int]:
    return [r.offset for r in batch.records]


def test_fresh_partition_processes_everything_and_persists_the_next_offset() -> None:
    cur = OffsetCursors(lambda t, p: None)
    batch = cur.filter([rec(5), rec(6), rec(7, partition=1)])
    assert offsets(batch) == [5, 6, 7] and not batch.seeks and not batch.gaps
    assert cur.pop_dirty() == {0: {cursor_key("t", 0): b"7"}, 1: {cursor_key("t", 1): b"8"}}
    assert cur.pop_dirty() == {}  # written once


def test_replayed_records_below_the_persisted_cursor_are_skipped() -> None:
    cur = OffsetCursors(lambda t, p: 3)
    batch = cur.filter([rec(1), rec(2), rec(3), rec(4)])
    assert offsets(batch) == [3, 4] and batch.replays == 2


def test_a_missing_record_holds_the_partition_and_seeks_back_until_it_comes() -> None:
    clock = Clock()
    cur = OffsetCursors(lambda t, p: 10 if p == 0 else None, accept_gap_after_ms=3000, clock=clock)
    first = cur.filter([rec(10), rec(12), rec(13), rec(20, partition=1)])
    # 11 never came: 12 and 13 are held, the consumer sought back to 11; partition 1 flows on
    assert offsets(first) == [10, 20] and first.held == 2
    assert first.seeks == {("t", 0): 11} and first.gaps == [("t", 0, 11, 12)]
    clock.s = 0.2  # stale records fetched before the seek: held again, no second seek yet
    stale = cur.filter([rec(14)])
    assert offsets(stale) == [] and stale.held == 1 and not stale.seeks and not stale.gaps
    clock.s = 0.4  # the re-read from 11
    again = cur.filter([rec(11), rec(12), rec(13), rec(14)])
    assert offsets(again) == [11, 12, 13, 14] and not again.seeks
    assert cur.pop_dirty() == {0: {cursor_key("t", 0): b"15"}, 1: {cursor_key("t", 1): b"21"}}


def test_a_gap_that_persists_is_sought_again_each_second_then_accepted_as_absent() -> None:
    clock = Clock()
    cur = OffsetCursors(lambda t, p: 7, accept_gap_after_ms=3000, clock=clock)
    assert cur.filter([rec(9)]).seeks == {("t", 0): 7}
    clock.s = 1.5
    assert cur.filter([rec(9)]).seeks == {("t", 0): 7}  # re-seek after a second
    clock.s = 3.5  # offsets 7 and 8 are not in the topic (e.g. transaction markers)
    batch = cur.filter([rec(9), rec(10)])
    assert offsets(batch) == [9, 10] and batch.absent == [("t", 0, 7, 8)] and not batch.seeks


def test_forget_rereads_cursors_after_a_rebalance() -> None:
    stored = {("t", 0): 4}
    cur = OffsetCursors(lambda t, p: stored.get((t, p)))
    assert offsets(cur.filter([rec(4), rec(5)])) == [4, 5]
    stored[("t", 0)] = 100  # the partition moved away and came back with newer state
    cur.forget()
    batch = cur.filter([rec(6), rec(100)])
    assert offsets(batch) == [100] and batch.replays == 1


def test_parse_cursor_rejects_garbage() -> None:
    assert parse_cursor(b"12") == 12
    assert parse_cursor(b"") is None and parse_cursor(b"abc") is None and parse_cursor(None) is None


def test_a_cursor_past_the_partition_end_starts_again_for_a_recreated_topic() -> None:
    cur = OffsetCursors(lambda t, p: 5000, highwater=lambda t, p: 3)
    batch = cur.filter([rec(0), rec(1), rec(2)])
    assert offsets(batch) == [0, 1, 2] and batch.resets == [("t", 0, 5000, 0)]
    assert cur.pop_dirty() == {0: {cursor_key("t", 0): b"3"}}
    # an ordinary replay (cursor within the partition) is still skipped
    cur = OffsetCursors(lambda t, p: 2, highwater=lambda t, p: 10)
    assert offsets(cur.filter([rec(1), rec(2)])) == [2]
