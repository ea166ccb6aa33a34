"""A read view of one partition of a Faust table that satisfies :class:`models.state.StateStore`.

Reads go straight to the RocksDB database of the key's partition. Faust's own ``table.get``
picks the database from the *current event's* partition, which inside a ``take_events`` batch
is whatever event the stream last yielded - a key of partition 3 looked up while an event
of partition 1 is current reads the wrong database and comes back empty. Writes are *not*
made through this object: the agent writes each dirty key once per batch in the context of
an event of the key's partition (``streams.app._write_state``), which is what Faust's
RocksDB store and changelog need.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TableStore"]


class TableStore:
    """Mapping-like read access to one partition of a Faust table holding raw bytes.

    :param table: a Faust table with raw key and value serialisers and a RocksDB store.
    :param partition: the source-topic partition (= changelog partition) this view reads.
    """

    def __init__(self, table: Any, partition: int) -> None:
        self._table = table
        self._partition = partition

    def get(self, key: str, default: bytes | None = None) -> bytes | None:
        store = self._table.data
        # The key bytes exactly as the store wrote them (Faust serialises str keys with the
        # table's key serializer, e.g. JSON '"a:..."'); plain utf-8 would never match.
        encode = getattr(store, "_encode_key", None)
        raw_key = encode(key) if encode is not None else key.encode()
        db_for = getattr(store, "_db_for_partition", None)
        if db_for is None:  # memory store (tests, tools): a plain mapping over all partitions
            value = store.get(raw_key)
        else:
            value = db_for(self._partition).get(raw_key)
        return default if value is None else value

    def __setitem__(self, key: str, value: bytes) -> None:
        raise TypeError("TableStore is read-only: state is written by the agent per batch")

    def __delitem__(self, key: str) -> None:
        raise TypeError("TableStore is read-only: state is written by the agent per batch")
