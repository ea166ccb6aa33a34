"""The table stores' RocksDB memory is bounded per worker: one block cache for every partition
database, holding index and filter blocks and charged with the memtables.

Read back from what a user can check: the OPTIONS file RocksDB writes into each database
directory, and the database's own memory properties. No broker needed (the app is built,
not started; the stores open their databases on demand).
"""

from __future__ import annotations

import glob
import os
import time
from pathlib import Path
from typing import Any

import pytest

from streams.app import build_app
from streams.malloc import TRIM_AVAILABLE, MallocTrimmer
from streams.settings import Settings

MiB = 1024 * 1024


def _app(tmp_path: Path, **overrides: Any) -> Any:
    # Block cache sizes distinct per test: the cache is shared by the process's databases of
    # the same sizes, and one test's blocks must not count in another's figures.
    return build_app(Settings(data_dir=tmp_path, **overrides))


def _block_based_options(db_dir: Path) -> dict[str, str]:
    latest = sorted(glob.glob(str(db_dir / "OPTIONS-*")))[-1]
    opts: dict[str, str] = {}
    section = ""
    for line in Path(latest).read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif "=" in line and section.startswith("[TableOptions/BlockBasedTable"):
            key, _, value = line.partition("=")
            opts[key] = value
    return opts


def _fill(db: Any, n: int, *, flush_every: int, seed: int) -> None:
    rnd = __import__("random").Random(seed)
    for i in range(n):
        db.put(rnd.randbytes(16), rnd.randbytes(200))
        if flush_every and (i + 1) % flush_every == 0:
            db.flush()


def _prop(db: Any, name: str) -> int:
    return int(db.property_int_value(f"rocksdb.{name}"))


def test_every_table_partition_opens_with_index_and_filter_blocks_in_the_cache(tmp_path: Path) -> None:
    dg = _app(tmp_path, rocksdb_block_cache_bytes=48 * MiB)
    for table in dg.tables.values():
        for partition in (0, 1):
            table.data._db_for_partition(partition)
            opts = _block_based_options(table.data.partition_path(partition))
            assert opts["cache_index_and_filter_blocks"] == "true"
            assert opts["pin_l0_filter_and_index_blocks_in_cache"] == "true"


def test_one_block_cache_for_all_partition_databases(tmp_path: Path) -> None:
    dg = _app(tmp_path, rocksdb_block_cache_bytes=40 * MiB, rocksdb_memtable_budget_bytes=0)
    account, cluster = dg.tables["account"].data, dg.tables["cluster"].data
    dbs = [account._db_for_partition(0), account._db_for_partition(1), cluster._db_for_partition(0)]
    assert {_prop(db, "block-cache-capacity") for db in dbs} == {40 * MiB}
    _fill(dbs[0], 20_000, flush_every=10_000, seed=1)
    for key in list(dbs[0].keys())[:2_000]:  # loads data blocks of one database only
        dbs[0].get(key)
    usage = [_prop(db, "block-cache-usage") for db in dbs]
    assert usage[0] > 1 * MiB
    # the same cache: the other databases see the blocks the first one loaded
    assert usage[1] == usage[0] and usage[2] == usage[0]


def test_table_reader_memory_does_not_grow_with_the_data(tmp_path: Path) -> None:
    """Index and filter blocks in the (bounded) cache, not in each SST file's table reader:
    what stays outside the cache is a small fixed cost per open file."""
    dg = _app(tmp_path, rocksdb_block_cache_bytes=36 * MiB)
    db = dg.tables["account"].data._db_for_partition(2)
    db.set_options({"disable_auto_compactions": "true"})  # keep every file: worst case
    _fill(db, 240_000, flush_every=30_000, seed=2)
    files = len(db.live_files())
    assert files >= 8
    readers = _prop(db, "estimate-table-readers-mem")
    # Faust's options: ~300 KB for these 8 files (~38 KB of index and filter blocks each).
    assert readers < 8 * 1024 * files, (readers, files)
    assert _prop(db, "block-cache-usage") <= 36 * MiB


def test_memtables_are_charged_to_the_block_cache(tmp_path: Path) -> None:
    """The write buffer manager reserves the memtables' memory in the block cache, so the
    cache's capacity bounds blocks and memtables together."""
    dg = _app(tmp_path, rocksdb_block_cache_bytes=44 * MiB, rocksdb_memtable_budget_bytes=16 * MiB)
    db = dg.tables["cluster"].data._db_for_partition(3)
    before = _prop(db, "block-cache-usage")
    _fill(db, 15_000, flush_every=0, seed=3)  # ~3.5 MB in the memtable, no flush
    memtable = _prop(db, "cur-size-all-mem-tables")
    assert memtable > 2 * MiB
    assert _prop(db, "block-cache-usage") - before >= memtable * 0.9


@pytest.mark.parametrize("flag", [False])
def test_index_and_filter_blocks_can_be_left_to_the_table_readers(tmp_path: Path, flag: bool) -> None:
    dg = _app(tmp_path, rocksdb_block_cache_bytes=52 * MiB, rocksdb_cache_index_and_filter_blocks=flag)
    store = dg.tables["account"].data
    store._db_for_partition(0)
    assert _block_based_options(store.partition_path(0))["cache_index_and_filter_blocks"] == "false"


def test_store_is_used_for_the_tables(tmp_path: Path) -> None:
    from streams import rocksdb_options

    dg = _app(tmp_path)
    for table in dg.tables.values():
        assert isinstance(table.data, rocksdb_options.Store)
        assert os.path.basename(table.data.partition_path(0)) == f"{table.name}-0.db"


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not (TRIM_AVAILABLE and Path("/proc/self/status").exists()),
                    reason="malloc_trim is glibc's, VmRSS Linux's: the trimmer is a no-op elsewhere")
def test_trimmer_hands_free_heap_pages_back(tmp_path: Path) -> None:
    """Freed chunks inside the heap (a live one above them: the heap top cannot shrink) stay
    resident until malloc_trim; the worker's trimmer thread releases them."""
    chunks = [bytes(2000) + i.to_bytes(4, "little") for i in range(100_000)]  # ~200 MB, malloc'd
    keep = chunks[::200]  # pins a chunk every ~400 KB
    del chunks
    before = _rss_kib()
    trimmer = MallocTrimmer(0.05)
    trimmer.start()
    try:
        deadline = time.monotonic() + 5
        while _rss_kib() > before - 100 * 1024 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        trimmer.stop()
    assert _rss_kib() <= before - 100 * 1024, (before, _rss_kib())
    assert len(keep) == 500
