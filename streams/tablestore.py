"""A read view of one partition of a Faust table that satisfies :class:`models.state.StateStore`.

Reads go straight to the RocksDB database of the key's partition. Faust's own ``table.get``
picks the database from the *current event's* partition, which inside a ``take_events`` batch
is whatever event the stream last yielded - a key of partition 3 looked up while an event
of partition 1 is current reads the wrong database and comes back empty. Writes are *not*
made through this object: the agent writes each dirty key once per batch into the RocksDB
database and the changelog partition of the key's partition (``streams.app._write_prepared``;
``_write_state`` for the memory store).
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
        db_for = getattr(store, "_db_for_partition", None)
        if db_for is None:  # memory store (tests, tools): a plain mapping over all partitions
            # The key bytes exactly as Faust's ``table[key] = value`` wrote them (str keys pass
            # the table's key serializer, e.g. JSON '"a:..."'; plain utf-8 would never match).
            encode = getattr(store, "_encode_key", None)
            value = store.get(encode(key) if encode is not None else key.encode())
        else:
            # The RocksDB store is written by the agent (``streams.app._prepare_state``) and by
            # Faust's changelog recovery, both with the raw utf-8 key bytes of the changelog.
            value = db_for(self._partition).get(key.encode())
        return default if value is None else value

    def __setitem__(self, key: str, value: bytes) -> None:
        raise TypeError("TableStore is read-only: state is written by the agent per batch")

    def __delitem__(self, key: str) -> None:
        raise TypeError("TableStore is read-only: state is written by the agent per batch")
