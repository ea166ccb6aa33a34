"""Reading a hole of offsets from a real topic (:class:`streams.gapfill.GapFiller`)."""

from __future__ import annotations

import asyncio

import pytest

from streams.gapfill import GapFiller
from streams.settings import Settings
from tests.integration.workers import produce

pytestmark = pytest.mark.broker


def test_gapfiller_reads_exactly_the_missing_offsets_of_one_partition(deployment_factory) -> None:
    dep = deployment_factory(partitions=2)
    topic = dep.topics["requests"]
    records = [(b"k", f'{{"n": {i}}}'.encode()) for i in range(50)]
    produce(dep.bootstrap, topic, records)  # one key: all in one partition, offsets 0..49
    settings = Settings(bootstrap_servers=dep.bootstrap, app_id="gapfill-test")

    async def run() -> tuple[list[int], list[bytes], list[int], list[int]]:
        filler = GapFiller(settings, timeout_s=30)
        try:
            from streams.runtime import kafka_partition

            part = kafka_partition("k", 2)
            middle = await filler.fetch(topic, part, 10, 20)
            tail = await filler.fetch(topic, part, 45, 50)
            other = await filler.fetch(topic, 1 - part, 0, 0)
            return ([r.offset for r in middle], [r.value for r in middle], [r.offset for r in tail],
                    [r.offset for r in other])
        finally:
            await filler.stop()

    middle, values, tail, other = asyncio.run(run())
    assert middle == list(range(10, 20))
    assert values == [f'{{"n": {i}}}'.encode() for i in range(10, 20)]
    assert tail == [45, 46, 47, 48, 49]
    assert other == []
