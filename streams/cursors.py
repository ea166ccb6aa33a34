"""Per-partition offset cursors: every record is processed once per state, none is skipped.

Faust's delivery is at-least-once only in the common case. Around a rebalance its stream
drops records fetched in the previous consumer generation *and acknowledges them*, so a
commit can move past records no agent ever saw (seen here at every few takeovers under load,
and at every group join of ``distillguard bench --workers 2``: hundreds of records per
partition). Replays, the other direction, are expected: after a crash the records since the
last commit come again.

A cursor holds, per source topic partition, the next offset whose effects are not yet in
the state tables. It is written with the batch's state (same changelog partition, after
the state keys), so it moves exactly as far as the state does. For each record:

* ``offset < cursor``: a replay of a record whose effects are already in the state - skipped,
  which makes every engine, not just the volume counter, idempotent under replay (unless the
  cursor is past the partition's end: the topic was recreated, and the cursor starts again);
* ``offset == cursor``: processed, the cursor moves on;
* ``offset > cursor``: records are missing. :meth:`OffsetCursors.gaps` names the holes; the
  agent reads them from the topic with a consumer of its own (:mod:`streams.gapfill`) and
  splices them in before the batch is filtered (an aiokafka-level seek back does not work:
  Faust's fetch loop drops records below the highest offset it has handed out; a hole at
  a partition's end, with no later record to show it, is left to :mod:`streams.stall`). Offsets still
  missing after that are absent from the topic (compaction, transaction markers, retention)
  and are skipped.

Pure logic, no Kafka.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from streams.runtime import InputRecord

__all__ = ["CursorBatch", "Gap", "OffsetCursors", "cursor_key", "parse_cursor", "splice"]


def cursor_key(topic: str, partition: int) -> str:
    """The table key of a partition's cursor (never an account or link key).

    >>> cursor_key("llm-requests", 3)
    'cursor|llm-requests|3'
    """
    return f"cursor|{topic}|{partition}"


@dataclass(frozen=True)
class Gap:
    """Offsets ``[first, end)`` of a partition missing before the batch's record ``index``."""

    index: int
    topic: str
    partition: int
    first: int
    end: int


@dataclass
class CursorBatch:
    """The records of a batch to process, and what was skipped."""

    records: list[InputRecord] = field(default_factory=list)
    replays: int = 0  #: records skipped because their effects are already in the state
    #: ``(topic, partition, first, last)`` offset ranges absent from the topic
    absent: list[tuple[str, int, int, int]] = field(default_factory=list)
    #: ``(topic, partition, cursor, offset)``: cursors past the partition's end, started again
    resets: list[tuple[str, int, int, int]] = field(default_factory=list)


class OffsetCursors:
    """Cursors of the partitions one agent consumes.

    :param load: reads a persisted cursor, ``(topic, partition) -> offset or None``.
    :param highwater: the partition's end offset as the consumer last saw it, or None.
    """

    def __init__(self, load: Callable[[str, int], int | None],
                 highwater: Callable[[str, int], int | None] | None = None) -> None:
        self._load = load
        self._highwater = highwater
        self._next: dict[tuple[str, int], int | None] = {}
        self._dirty: dict[tuple[str, int], int] = {}

    def forget(self) -> None:
        """Drop what is in memory (after a rebalance): cursors are re-read from the tables."""
        self._next.clear()
        self._dirty.clear()

    def peek(self, topic: str, partition: int) -> int | None:
        """The partition's cursor: the next offset its state waits for (None: none yet)."""
        return self._cursor((topic, partition))

    def _cursor(self, tp: tuple[str, int]) -> int | None:
        if tp not in self._next:
            self._next[tp] = self._load(*tp)
        return self._next[tp]

    def _past_end(self, tp: tuple[str, int], cursor: int) -> bool:
        hw = self._highwater(*tp) if self._highwater is not None else None
        return hw is not None and cursor > hw

    def gaps(self, records: Sequence[InputRecord]) -> list[Gap]:
        """The holes in a batch: offsets after a partition's cursor that did not arrive."""
        want: dict[tuple[str, int], int | None] = {}
        out: list[Gap] = []
        for i, rec in enumerate(records):
            tp = (rec.topic, rec.partition)
            if tp not in want:
                want[tp] = self._cursor(tp)
            w = want[tp]
            if w is None or rec.offset == w:
                want[tp] = rec.offset + 1
            elif rec.offset > w:
                out.append(Gap(i, rec.topic, rec.partition, w, rec.offset))
                want[tp] = rec.offset + 1
            elif self._past_end(tp, w):  # recreated topic: the cursor starts again
                want[tp] = rec.offset + 1
        return out

    def filter(self, records: Iterable[InputRecord]) -> CursorBatch:
        """Drop replays, note absent offsets and resets, advance the cursors."""
        out = CursorBatch()
        for rec in records:
            tp = (rec.topic, rec.partition)
            want = self._cursor(tp)
            if want is not None and rec.offset < want:
                if not self._past_end(tp, want):
                    out.replays += 1
                    continue
                # The cursor is past the partition's end: the topic was deleted and created
                # again (offsets restart at 0). Its records are new, not replays.
                out.resets.append((rec.topic, rec.partition, want, rec.offset))
            elif want is not None and rec.offset > want:
                out.absent.append((rec.topic, rec.partition, want, rec.offset - 1))
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


def splice(records: Sequence[InputRecord], fills: Sequence[tuple[Gap, list[InputRecord]]]) -> list[InputRecord]:
    """``records`` with each gap's fetched records inserted before the record that follows it.

    >>> r = lambda o: InputRecord("t", 0, o, None, b"", 0)
    >>> [x.offset for x in splice([r(1), r(4)], [(Gap(1, "t", 0, 2, 4), [r(2), r(3)])])]
    [1, 2, 3, 4]
    """
    out = list(records)
    for gap, fetched in sorted(fills, key=lambda f: f[0].index, reverse=True):
        out[gap.index:gap.index] = [f for f in fetched if gap.first <= f.offset < gap.end]
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
