"""``StallWatch``: when a partition's records stopped reaching its agent (streams/stall.py)."""

from __future__ import annotations

from streams.stall import StallWatch


def test_a_cursor_standing_behind_the_log_end_while_idle_is_named_once_per_stall() -> None:
    w = StallWatch(ticks=2)
    assert not w.check("p", cursor=100, end=130, idle=True)
    assert w.check("p", cursor=100, end=130, idle=True)  # second check, still at 100: seek
    assert not w.check("p", cursor=100, end=130, idle=True)  # counting starts again after it


def test_progress_work_in_hand_or_nothing_missing_is_no_stall() -> None:
    w = StallWatch(ticks=2)
    assert not w.check("p", cursor=100, end=130, idle=True)
    assert not w.check("p", cursor=110, end=130, idle=True)  # it moved: records are arriving
    assert not w.check("p", cursor=110, end=130, idle=False)  # a batch running / queued records
    assert not w.check("p", cursor=110, end=130, idle=True)  # so the count restarted
    assert not w.check("q", cursor=130, end=130, idle=True) and not w.check("q", 130, 130, True)
    assert not w.check("r", cursor=None, end=130, idle=True) and not w.check("r", None, 130, True)
    assert not w.check("s", cursor=5, end=None, idle=True) and not w.check("s", 5, None, True)


def test_forget_restarts_every_count() -> None:
    w = StallWatch(ticks=2)
    w.check("p", 1, 9, True)
    w.forget()  # a rebalance
    assert not w.check("p", 1, 9, True)
