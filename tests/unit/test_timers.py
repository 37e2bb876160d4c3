"""The shared timer queue (DESIGN §5: one loop timer for every per-connection deadline)."""

from __future__ import annotations

import asyncio

from centripetal.timers import TimerQueue


async def test_callbacks_run_in_deadline_order() -> None:
    q = TimerQueue(granularity=0.01)
    fired: list[str] = []
    q.schedule(0.05, lambda: fired.append("b"))
    q.schedule(0.01, lambda: fired.append("a"))
    q.schedule(0.09, lambda: fired.append("c"))
    await asyncio.sleep(0.15)
    assert fired == ["a", "b", "c"]
    assert len(q) == 0


async def test_cancelled_timer_does_not_run() -> None:
    q = TimerQueue(granularity=0.01)
    fired: list[int] = []
    t = q.schedule(0.02, lambda: fired.append(1))
    t.cancel()
    await asyncio.sleep(0.05)
    assert fired == []


async def test_failing_callback_does_not_stop_others() -> None:
    q = TimerQueue(granularity=0.01)
    fired: list[int] = []

    def boom() -> None:
        raise RuntimeError("boom")

    q.schedule(0.01, boom)
    q.schedule(0.01, lambda: fired.append(1))
    await asyncio.sleep(0.05)
    assert fired == [1]


async def test_cancelled_entries_are_compacted() -> None:
    q = TimerQueue()
    timers = [q.schedule(3600, lambda: None) for _ in range(5000)]
    for t in timers[:4000]:
        t.cancel()
    assert len(q._heap) < 5000  # compaction ran
    assert len(q) == 1000
    q.close()
