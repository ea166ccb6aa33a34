"""Consumer lag of ``llm-requests``: the broker's log-end offsets minus what the worker processed.

The consumer's own high-water mark (``consumer.highwater(tp)``) is what the partition's last
*fetch response* said. A worker that is behind fetches a large chunk of records and fetches
that partition again only once it has taken them, so while the backlog grows the mark stands
still and the lag it gives falls to ~0 before jumping back: under a 2x overload
(``bench/overload.py``) the gauge showed 462 events when ~100,000 were waiting. The lag an
operator needs is "records in the topic not yet processed", so the log-end offsets are asked
of the broker itself (a ListOffsets request, one per scrape period) by a client of their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from streams.security import aiokafka_security
from streams.settings import Settings

__all__ = ["EndOffsets", "partition_lag"]

log = logging.getLogger(__name__)


def partition_lag(end_offset: int | None, fetched_highwater: int | None, last_done: int | None) -> int | None:
    """Records of one partition not yet processed, or None when no end offset is known.

    ``end_offset`` is the broker's log end (None when the broker did not answer),
    ``fetched_highwater`` the consumer's mark from its last fetch (None before one),
    ``last_done`` the offset of the last record processed (None before any). The larger of
    the two ends is used: either may be the more recent.

    >>> partition_lag(1_000, 400, 299), partition_lag(None, 400, 299), partition_lag(None, None, 5)
    (700, 100, None)
    >>> partition_lag(10, None, None), partition_lag(10, 10, 20)
    (10, 0)
    """
    ends = [x for x in (end_offset, fetched_highwater) if x is not None]
    if not ends:
        return None
    done = -1 if last_done is None else last_done
    return max(0, max(ends) - (done + 1))


class EndOffsets:
    """Log-end offsets of topic partitions, from a group-less aiokafka consumer of its own.

    The client is started on first use and rebuilt after a failure (broker away); a failed or
    slow query returns ``{}`` (the caller falls back to the fetched marks) and never raises.
    """

    def __init__(self, settings: Settings, timeout_s: float = 5.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._consumer: Any = None

    async def get(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """``(topic, partition) -> log-end offset`` for ``partitions``; ``{}`` on failure."""
        from aiokafka import TopicPartition

        tps = [TopicPartition(t, p) for t, p in partitions]
        if not tps:
            return {}
        try:
            if self._consumer is None:
                self._consumer = await asyncio.wait_for(self._start(), self.timeout_s)
            ends = await asyncio.wait_for(self._consumer.end_offsets(tps), self.timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - broker away or slow: no figure this time
            log.debug("log-end offsets unavailable", exc_info=True)
            await self.close()
            return {}
        return {(tp.topic, tp.partition): int(off) for tp, off in ends.items()}

    async def _start(self) -> Any:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers, group_id=None,
                                    enable_auto_commit=False, **aiokafka_security(self.settings))
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()
            raise
        return consumer

    async def close(self) -> None:
        """Stop the client (it is started again on the next :meth:`get`)."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                await consumer.stop()
            except Exception:  # noqa: BLE001 - closing a client of a broker that is away
                log.debug("closing the end-offsets client failed", exc_info=True)
