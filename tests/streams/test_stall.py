"""``StallWatch``: when a partition's records stopped reaching its agent (streams/stall.py)."""

from __future__ import annotations

from streams.stall import StallWatch, worker_idle


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


class _Queue:
    def __init__(self, n: int) -> None:
        self.n = n

    def empty(self) -> bool:
        return self.n == 0


def test_an_agent_with_an_empty_queue_is_not_idle_while_another_agent_is_behind() -> None:
    # One fetch loop delivers every topic: the links queue is empty because the requests
    # agent's full queue holds the delivery up, not because links records went missing.
    queues = {"requests": _Queue(4_000), "links": _Queue(0), "feedback": _Queue(0)}
    assert not worker_idle({"requests": False, "links": False}, queues)
    assert not worker_idle({"requests": True}, {"requests": _Queue(0), "links": _Queue(0)})
    assert worker_idle({"requests": False, "links": False}, {"requests": _Queue(0), "links": _Queue(0)})
    # and so a links cursor behind the log end is never sought while requests are queued
    w = StallWatch(ticks=2)
    idle = worker_idle({}, queues)
    assert not any(w.check(("links", "t", 0), cursor=10, end=20, idle=idle) for _ in range(5))
