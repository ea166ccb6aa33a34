"""``partition_lag``: the lag an operator reads, from the broker's log end and the fetched mark."""

from __future__ import annotations

from streams.lag import partition_lag


def test_the_broker_log_end_wins_over_a_stale_fetched_mark() -> None:
    # 100,000 records in the partition, the last fetch saw 40,000, 39,500 processed
    assert partition_lag(100_000, 40_000, 39_499) == 60_500
    # the broker did not answer this time: the fetched mark is all there is
    assert partition_lag(None, 40_000, 39_499) == 500
    # a fetch newer than the last ListOffsets answer
    assert partition_lag(1_000, 1_200, 999) == 200


def test_nothing_processed_yet_and_nothing_known() -> None:
    assert partition_lag(50, None, None) == 50  # offsets 0..49 all waiting
    assert partition_lag(None, None, 7) is None  # no end known: no value rather than a wrong one
    assert partition_lag(10, 10, 12) == 0  # never negative (a mark older than the processing)
