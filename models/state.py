"""Keyed state: one small mapping protocol, and a write-back cache in front of it.

The engine keeps every per-key record (account, link key, partition globals) as an
orjson-serialisable value behind :class:`StateStore`, a three-method protocol that a
``dict``, a ``rocksdict.Rdict`` or a thin Faust-table wrapper all satisfy. Hot records live
in a bounded LRU :class:`KeyedCache`; writes are tracked as *dirty* and serialised only when
:meth:`KeyedCache.pop_dirty` is called (the streams adapter does that every commit), so a
busy account costs one serialisation per flush, not one per event.

Values are orjson bytes, never pickle: the store is backed by a changelog topic that other
principals may be able to write to.

>>> store = {}
>>> cache = KeyedCache(store, decode=lambda v: v, encode=lambda v: v, max_items=2)
>>> cache.put("a", {"n": 1})
>>> cache.get("a")
{'n': 1}
>>> dirty = cache.pop_dirty(); sorted(dirty)
['a']
>>> cache.flush_into(dirty)
1
>>> orjson.loads(store["a"])
{'n': 1}
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import msgspec
import orjson

__all__ = ["KeyedCache", "StateStore", "dumps", "loads"]


@runtime_checkable
class StateStore(Protocol):
    """What the engine needs from a backing store: ``get``, item assignment, item deletion.

    ``dict``, ``rocksdict.Rdict`` and a Faust table wrapper satisfy it. Keys are ``str``,
    values ``bytes`` (orjson). ``get`` returns ``default`` when the key is absent.
    """

    def get(self, key: str, default: Any = None) -> bytes | None: ...  # pragma: no cover

    def __setitem__(self, key: str, value: bytes) -> None: ...  # pragma: no cover

    def __delitem__(self, key: str) -> None: ...  # pragma: no cover


#: msgspec's encoder writes the same bytes as ``orjson.dumps(obj, option=OPT_NON_STR_KEYS)`` for
#: state records (lists, str/int-keyed dicts, ints up to 2**64, floats, None), but is 1.5-3x
#: faster when the results are kept, as a batch of dirty states is (orjson's output buffer is
#: over-allocated, then shrunk: ~8 µs for a 60-int list kept, against ~1.4 µs dropped at once).
_ENCODE = msgspec.json.Encoder().encode


def dumps(obj: Any) -> bytes:
    """Serialise a state value (JSON; non-str dict keys written as strings)."""
    return _ENCODE(obj)


def loads(raw: bytes | bytearray | memoryview | str) -> Any:
    """Deserialise a state value written by :func:`dumps`."""
    return orjson.loads(raw)


class KeyedCache:
    """Bounded LRU of decoded state records in front of a :class:`StateStore`.

    Parameters
    ----------
    store
        Backing store (``dict`` when None).
    decode
        ``plain JSON value -> record`` (called on a cache miss).
    encode
        ``record -> plain JSON value`` (called by :meth:`pop_dirty`).
    max_items
        Records kept decoded in memory. A dirty record evicted from the LRU is serialised
        into an internal pending buffer first, so no write is ever lost. Default - 50 000.
    """

    def __init__(
        self,
        store: StateStore | None,
        decode: Callable[[Any], Any],
        encode: Callable[[Any], Any],
        max_items: int = 50_000,
    ) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items}")
        self.store: StateStore = {} if store is None else store
        self.decode = decode
        self.encode = encode
        self.max_items = max_items
        self._lru: OrderedDict[str, Any] = OrderedDict()
        self._dirty: set[str] = set()
        self._pending: dict[str, bytes] = {}  # serialised dirty records evicted from the LRU

    def __len__(self) -> int:
        return len(self._lru)

    def get(self, key: str) -> Any | None:
        """The record for ``key`` (from memory, pending writes, or the store), or None."""
        lru = self._lru
        rec = lru.get(key)
        if rec is not None:
            lru.move_to_end(key)
            return rec
        raw = self._pending.get(key)
        if raw is None:
            raw = self.store.get(key)
            if raw is None:
                return None
        rec = self.decode(loads(raw))
        self._insert(key, rec)
        return rec

    def get_for_update(self, key: str) -> Any | None:
        """:meth:`get`, then :meth:`touch` when the record exists (one call per event)."""
        rec = self.get(key)
        if rec is not None:
            self._dirty.add(key)
        return rec

    def put(self, key: str, rec: Any) -> None:
        """Insert or replace ``key`` and mark it dirty."""
        self._insert(key, rec)
        self._dirty.add(key)

    def touch(self, key: str) -> None:
        """Mark an in-memory record as modified."""
        self._dirty.add(key)

    def _insert(self, key: str, rec: Any) -> None:
        lru = self._lru
        lru[key] = rec
        lru.move_to_end(key)
        while len(lru) > self.max_items:
            old_key, old = lru.popitem(last=False)
            if old_key in self._dirty:
                self._dirty.discard(old_key)
                self._pending[old_key] = dumps(self.encode(old))

    def pop_dirty(self) -> dict[str, bytes]:
        """Keys written since the last call -> serialised value."""
        out: dict[str, bytes] = self._pending
        self._pending = {}
        lru = self._lru
        for key in self._dirty:
            rec = lru.get(key)
            if rec is not None:
                out[key] = dumps(self.encode(rec))
        self._dirty = set()
        return out

    def flush_into(self, dirty: dict[str, bytes]) -> int:
        """Write a :meth:`pop_dirty` result into the store; returns the number of keys."""
        store = self.store
        for key, raw in dirty.items():
            store[key] = raw
        return len(dirty)

    def evict_all(self) -> None:
        """Drop every decoded record (after a rebalance). Unflushed writes are flushed first."""
        self.flush_into(self.pop_dirty())
        self._lru.clear()
