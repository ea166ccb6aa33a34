"""A read view of a Faust table that satisfies :class:`models.state.StateStore`.

Reads go to the table (RocksDB); writes are *not* made through this object: the agent
writes each dirty key once per batch in the context of an event of the key's partition
(``streams.app._write_state``), which is what Faust's RocksDB store and changelog need.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TableStore"]


class TableStore:
    """Mapping-like read access to a Faust table holding raw bytes."""

    def __init__(self, table: Any) -> None:
        self._table = table

    def get(self, key: str, default: bytes | None = None) -> bytes | None:
        value = self._table.get(key.encode())
        return default if value is None else value

    def __setitem__(self, key: str, value: bytes) -> None:
        raise TypeError("TableStore is read-only: state is written by the agent per batch")

    def __delitem__(self, key: str) -> None:
        raise TypeError("TableStore is read-only: state is written by the agent per batch")
