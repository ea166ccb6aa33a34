"""Read a range of offsets of one partition with a consumer of our own (no group, no commits).

Used by the agents to fill the holes :meth:`streams.cursors.OffsetCursors.gaps` finds: records
Faust's consumer acknowledged without delivering them (see :mod:`streams.cursors`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from streams.runtime import InputRecord
from streams.security import aiokafka_security
from streams.settings import Settings

__all__ = ["GapFiller"]

log = logging.getLogger("distillguard")


class GapFiller:
    """A lazily started aiokafka consumer that fetches offset ranges on demand.

    :param settings: bootstrap servers and security.
    :param timeout_s: how long one range may take before :class:`TimeoutError`.
    """

    def __init__(self, settings: Settings, timeout_s: float = 60.0) -> None:
        self._settings = settings
        self._timeout_s = timeout_s
        self._consumer: Any = None
        self._lock = asyncio.Lock()

    async def _client(self) -> Any:
        if self._consumer is None:
            from aiokafka import AIOKafkaConsumer

            s = self._settings
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=s.bootstrap_servers, group_id=None, enable_auto_commit=False,
                auto_offset_reset="earliest", client_id=f"{s.app_id}-gapfill",
                max_partition_fetch_bytes=s.consumer_max_fetch_bytes, **aiokafka_security(s))
            await self._consumer.start()
        return self._consumer

    async def fetch(self, topic: str, partition: int, first: int, end: int) -> list[InputRecord]:
        """The records of ``topic[partition]`` with ``first <= offset < end`` that exist.

        Offsets below the log start (retention) or without a record (compaction, transaction
        markers) are simply not returned.
        """
        from aiokafka import TopicPartition

        async with self._lock:  # one range at a time: the client has one assignment
            consumer = await self._client()
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, first)
            out: list[InputRecord] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._timeout_s
            while True:
                batch = await consumer.getmany(tp, timeout_ms=500)
                for msg in batch.get(tp, ()):
                    if msg.offset >= end:
                        return out
                    if msg.offset >= first:
                        out.append(InputRecord(topic, partition, msg.offset, msg.key, msg.value,
                                               int(msg.timestamp or 0)))
                if await consumer.position(tp) >= end:
                    return out
                if loop.time() > deadline:
                    raise TimeoutError(f"offsets {first}..{end - 1} of {topic}[{partition}] not read "
                                       f"within {self._timeout_s:.0f} s")

    async def stop(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()
