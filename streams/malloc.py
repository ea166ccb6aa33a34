"""glibc's allocator in the worker: free memory handed back to the system periodically.

Measured in the worker (``distillguard bench``, every event a new account, ``mallinfo2``):
past the caches, most of the RSS that moved with the load was memory glibc held *free*,
160-350 MiB of freed chunks in its heaps (large fetch buffers, RocksDB flushes and
compactions, states evicted from the state cache), reused and freed again within seconds.
glibc hands back only the top of each heap; ``malloc_trim(0)`` also releases the free pages
inside them (30-50 ms a call here, 150-250 MiB returned). ``MALLOC_ARENA_MAX=2`` changed
nothing measurable (free 160-280 MiB, as without); a fixed ``MALLOC_MMAP_THRESHOLD_`` of
1 MiB halved it early in a run but it still grew with the run.

Linux/glibc only; elsewhere :func:`trim` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from typing import Any

__all__ = ["TRIM_AVAILABLE", "MallocTrimmer", "trim"]

log = logging.getLogger(__name__)


def _libc() -> Any | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()
#: Whether this process's C library has ``malloc_trim`` (glibc); elsewhere trimming is a no-op.
TRIM_AVAILABLE = _LIBC is not None


def trim() -> bool:
    """Hand the allocator's free pages back to the system (``malloc_trim(0)``). ctypes releases
    the GIL for the call: the event loop thread keeps running while another thread trims.
    Returns whether memory was released."""
    if _LIBC is None:
        return False
    return bool(_LIBC.malloc_trim(0))


class MallocTrimmer:
    """A daemon thread calling :func:`trim` every ``interval_s`` seconds (off the event loop)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval_s <= 0 or _LIBC is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="malloc-trim", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                trim()
            except Exception:  # pragma: no cover - never let the thread die silently
                log.exception("malloc_trim failed")
