"""Per-partition offset cursors: every record is processed once per state, none is skipped.

Faust's delivery is at-least-once only in the common case. Around a rebalance its stream
drops records fetched in the previous consumer generation *and acknowledges them*, so a
commit can move past records no agent ever saw (seen here: one record lost per takeover
under load, the first one after the rebalance boundary). Replays, the other direction, are
expected: after a crash the records since the last commit come again.

A cursor holds, per source topic partition, the next offset whose effects are not yet in
the state tables. It is written with the batch's state (same changelog partition, after
the state keys), so it moves exactly as far as the state does. For each record:

* ``offset < cursor``: a replay of a record whose effects are already in the state - skipped,
  which makes every engine, not just the volume counter, idempotent under replay (unless the
  cursor is past the partition's end: the topic was recreated, and the cursor starts again);
* ``offset == cursor``: processed, the cursor moves on;
* ``offset > cursor``: records are missing. The consumer is sought back to the cursor and the
  partition's records are held back (skipped, to come again) until the missing one arrives.
  Offsets that never arrive (a compacted topic, transaction markers) are accepted as absent
  after ``accept_gap_after_ms``.

Pure logic, no Kafka: the agent feeds it records and performs the seeks it asks for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from streams.runtime import InputRecord

__all__ = ["CursorBatch", "OffsetCursors", "cursor_key", "parse_cursor"]

#: while waiting for a missing offset, how often the consumer is sought back to it, ms
RESEEK_MS = 1000


def cursor_key(topic: str, partition: int) -> str:
    """The table key of a partition's cursor (never an account or link key: ``|`` prefix form).

    >>> cursor_key("llm-requests", 3)
    'cursor|llm-requests|3'
    """
    return f"cursor|{topic}|{partition}"


@dataclass
class CursorBatch:
    """What to do with one batch: the records to process and the seeks to perform."""

    records: list[InputRecord] = field(default_factory=list)
    #: ``(topic, partition) -> offset`` to seek the consumer to
    seeks: dict[tuple[str, int], int] = field(default_factory=dict)
    replays: int = 0  #: records skipped because their effects are already in the state
    held: int = 0  #: records skipped while waiting for a missing one (they come again)
    #: ``(topic, partition, first, last)`` offset ranges accepted as absent from the topic
    absent: list[tuple[str, int, int, int]] = field(default_factory=list)
    #: ``(topic, partition, expected, got)`` gaps found in this batch
    gaps: list[tuple[str, int, int, int]] = field(default_factory=list)
    #: ``(topic, partition, cursor, offset)``: cursors past the partition's end, started again
    resets: list[tuple[str, int, int, int]] = field(default_factory=list)


@dataclass
class _Wait:
    offset: int  # the missing offset the consumer is sought back to
    since_ms: float  # monotonic clock, ms, when the gap was first seen
    sought_ms: float | None = None  # when the last seek back was asked for


class OffsetCursors:
    """Cursors of the partitions one agent consumes.

    :param load: reads a persisted cursor, ``(topic, partition) -> offset or None``.
    :param accept_gap_after_ms: how long to wait for a missing offset before accepting it as
        absent from the topic, ms.
    :param clock: monotonic clock in seconds (injectable for tests).
    :param highwater: the partition's end offset as the consumer last saw it, or None.
    """

    def __init__(self, load: Callable[[str, int], int | None], accept_gap_after_ms: int = 3000,
                 clock: Callable[[], float] = time.monotonic,
                 highwater: Callable[[str, int], int | None] | None = None) -> None:
        self._load = load
        self._highwater = highwater
        self._accept_after_ms = accept_gap_after_ms
        self._clock = clock
        self._next: dict[tuple[str, int], int | None] = {}
        self._waiting: dict[tuple[str, int], _Wait] = {}
        self._dirty: dict[tuple[str, int], int] = {}

    def forget(self) -> None:
        """Drop what is in memory (after a rebalance): cursors are re-read from the tables."""
        self._next.clear()
        self._waiting.clear()
        self._dirty.clear()

    def filter(self, records: Iterable[InputRecord]) -> CursorBatch:
        """Split a batch into records to process and records to skip; advance the cursors."""
        out = CursorBatch()
        now_ms = self._clock() * 1000
        for rec in records:
            tp = (rec.topic, rec.partition)
            if tp not in self._next:
                self._next[tp] = self._load(*tp)
            want = self._next[tp]
            if want is not None and rec.offset < want:
                hw = self._highwater(*tp) if self._highwater is not None else None
                if hw is None or want <= hw:
                    out.replays += 1
                    continue
                # The cursor is past the partition's end: the topic was deleted and created
                # again (offsets restart at 0). Its records are new, not replays.
                out.resets.append((rec.topic, rec.partition, want, rec.offset))
            if want is not None and rec.offset > want:
                wait = self._waiting.get(tp)
                if wait is None or wait.offset != want:
                    wait = self._waiting[tp] = _Wait(want, now_ms)
                    out.gaps.append((rec.topic, rec.partition, want, rec.offset))
                if now_ms - wait.since_ms < self._accept_after_ms:
                    out.held += 1
                    # Seek once per second while waiting, not once per held record: a seek
                    # discards what the consumer fetched past the cursor, so the records
                    # still arriving right after it are stale, not a sign it failed.
                    if wait.sought_ms is None or now_ms - wait.sought_ms >= RESEEK_MS:
                        wait.sought_ms = now_ms
                        out.seeks[tp] = want
                    continue
                out.absent.append((rec.topic, rec.partition, want, rec.offset - 1))
            self._waiting.pop(tp, None)
            self._next[tp] = rec.offset + 1
            self._dirty[tp] = rec.offset + 1
            out.records.append(rec)
        return out

    def pop_dirty(self) -> dict[int, dict[str, bytes]]:
        """Cursors moved since the last call, as state to write: ``{partition: {key: bytes}}``."""
        out: dict[int, dict[str, bytes]] = {}
        for (topic, partition), offset in self._dirty.items():
            out.setdefault(partition, {})[cursor_key(topic, partition)] = str(offset).encode()
        self._dirty.clear()
        return out


def parse_cursor(raw: bytes | None) -> int | None:
    """A persisted cursor value, or None when absent or unreadable.

    >>> parse_cursor(b"42"), parse_cursor(None), parse_cursor(b"x")
    (42, None, None)
    """
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None
