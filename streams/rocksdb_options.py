"""RocksDB options for the table stores: one memory budget per worker, not per database.

Faust's store (``faust.stores.rocksdb``) builds the options of every partition database in
``RocksDBOptions.as_options``, and builds a new ``rocksdict.Cache`` each time: a worker with
two tables of four partitions has eight block caches, each filled up to its capacity as the
data outgrows it. Index and filter blocks are held by each SST file's table reader, outside
any cache, and grow with the data. Measured in a bench worker at 300,000 accounts (every
event a new account, 32 MiB per database): the eight caches held 156 MiB and were still
filling, the table readers 3.7 MiB. This module's :class:`Store` opens the databases with

- one block cache shared by every partition database of the process
  (``rocksdb_block_cache_bytes``), which also holds the index and filter blocks
  (``cache_index_and_filter_blocks``; level-0 ones pinned, as RocksDB recommends);
- the memtables of every database charged to that same cache through one write buffer
  manager (``rocksdb_memtable_budget_bytes``), so the memtables' total is bounded too,
  whatever the number of partitions.

It is selected per table with ``store="distillguard-rocksdb://"``. The store class is
the only place where Faust builds ``RocksDBOptions`` (``Store.__init__``), so the subclass
replaces that object right after Faust's constructor; every database the store opens goes
through ``rocksdb_options.open``. A subclass of Faust's ``Store`` registered under its own
URL scheme keeps the change to the tables that ask for it, with no monkeypatching of Faust.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import faust.stores
import rocksdict
from faust.stores import rocksdb as faust_rocksdb

__all__ = ["SCHEME", "BoundedRocksDBOptions", "SharedMemory", "Store", "shared_memory"]

#: URL scheme of :class:`Store` (``app.Table(..., store=f"{SCHEME}://")``).
SCHEME = "distillguard-rocksdb"


class SharedMemory:
    """The block cache and write buffer manager shared by the databases of one process."""

    def __init__(self, cache_bytes: int, memtable_bytes: int) -> None:
        self.cache_bytes = cache_bytes
        self.memtable_bytes = memtable_bytes
        self.cache = rocksdict.Cache(cache_bytes)
        # Memtable memory is charged to the cache (it evicts blocks to make room) and capped
        # at memtable_bytes over all databases; no stall: writers never wait on the budget,
        # a database whose memtables pass it is flushed.
        self.write_buffers = (
            rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
                memtable_bytes, False, self.cache) if memtable_bytes > 0 else None)


_shared: dict[tuple[int, int], SharedMemory] = {}
_shared_lock = threading.Lock()


def shared_memory(cache_bytes: int, memtable_bytes: int) -> SharedMemory:
    """The process's :class:`SharedMemory` for these sizes (created on first use)."""
    with _shared_lock:
        key = (cache_bytes, memtable_bytes)
        mem = _shared.get(key)
        if mem is None:
            mem = _shared[key] = SharedMemory(cache_bytes, memtable_bytes)
        return mem


class BoundedRocksDBOptions(faust_rocksdb.RocksDBOptions):
    """Faust's rocksdict options, with the process-wide cache and write buffer manager.

    Extra options (from the table's ``options``):
    ``memtable_budget_bytes``: total memtable memory of the process's databases (0: no
    manager, each database has its own ``max_write_buffer_number`` x ``write_buffer_size``);
    ``cache_index_and_filter_blocks`` (default true); ``shared_cache`` (default true: one
    block cache of ``block_cache_size`` for the process, false: one per database, as Faust).
    """

    def __init__(self, *, memtable_budget_bytes: int = 0, cache_index_and_filter_blocks: bool = True,
                 shared_cache: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.memtable_budget_bytes = memtable_budget_bytes
        self.cache_index_and_filter_blocks = cache_index_and_filter_blocks
        self.shared_cache = shared_cache

    def memory(self) -> SharedMemory:
        """The cache and write buffer manager these options open databases with."""
        if self.shared_cache:
            return shared_memory(self.block_cache_size, self.memtable_budget_bytes)
        return SharedMemory(self.block_cache_size, self.memtable_budget_bytes)

    def open(self, path: Path, *, read_only: bool = False) -> Any:
        """Open the database at ``path`` (rocksdict only: the project's only driver).

        Faust's ``open`` builds the options twice and drops the first (with its db paths);
        here they are built once.
        """
        if not self.use_rocksdict:
            raise ValueError("distillguard's RocksDB store needs the rocksdict driver")
        access = (rocksdict.AccessType.read_write() if self.ttl is None
                  else rocksdict.AccessType.with_ttl(self.ttl))
        db = rocksdict.Rdict(str(path), options=self.as_options(), access_type=access)
        db.set_read_options(rocksdict.ReadOptions())
        return db

    def as_options(self) -> rocksdict.Options:
        """Faust's rocksdict options (same filter, index type, memtable sizes), plus the
        shared cache holding index and filter blocks, and the write buffer manager."""
        if not self.use_rocksdict:
            raise ValueError("distillguard's RocksDB store needs the rocksdict driver")
        mem = self.memory()
        opts = rocksdict.Options(raw_mode=True)
        opts.create_if_missing(True)
        opts.set_max_open_files(self.max_open_files)
        opts.set_write_buffer_size(self.write_buffer_size)
        opts.set_target_file_size_base(self.target_file_size_base)
        opts.set_max_write_buffer_number(self.max_write_buffer_number)
        if mem.write_buffers is not None:
            opts.set_write_buffer_manager(mem.write_buffers)
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(self.bloom_filter_size, block_based=True)
        table.set_block_cache(mem.cache)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        if self.cache_index_and_filter_blocks:
            table.set_cache_index_and_filter_blocks(True)
            # The newest (level-0) files' index and filter are read on every lookup: kept in
            # the cache while the file lives, as RocksDB's memory tuning guide recommends.
            table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        opts.set_block_based_table_factory(table)
        return opts


class Store(faust_rocksdb.Store):
    """Faust's RocksDB store opening its partition databases with :class:`BoundedRocksDBOptions`."""

    rocksdb_options: BoundedRocksDBOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Faust popped read_only/driver from self.options and built its RocksDBOptions from
        # the rest; the same keyword arguments build ours (no database is open yet).
        self.rocksdb_options = BoundedRocksDBOptions(**self.options, use_rocksdict=self.use_rocksdict)


# Faust resolves a store URL's scheme through this registry (the alias of "rocksdb://" is
# "faust.stores.rocksdb:Store"); a scheme cannot name a module path itself.
faust.stores.STORES.aliases.setdefault(SCHEME, f"{__name__}:Store")
