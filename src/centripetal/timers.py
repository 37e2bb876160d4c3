"""One shared timer queue for every per-connection deadline (DESIGN §5).

Pings, pong checks, stale-connection closes and expirations of thousands of connections are
kept in one heap served by a single event-loop timer, instead of one ``call_later`` handle per
connection. Deadlines are rounded up to ``granularity`` so deadlines that fall close together
are served by one wake-up.

Theory of operation: ``schedule`` pushes ``(deadline, seq, callback)`` and returns a ``Timer``
handle; ``Timer.cancel`` only marks the entry (lazy deletion), so cancelling is O(1). The loop
timer is armed for the earliest live deadline; when it fires, every due entry runs in order.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
from collections.abc import Callable

from centripetal.observability.logs import failure_log

logger = logging.getLogger("centripetal.timers")
failures = failure_log("centripetal.timers")


class Timer:
    """A scheduled callback; ``cancel()`` prevents it from running."""

    __slots__ = ("callback", "cancelled", "deadline", "queue")

    def __init__(self, deadline: float, callback: Callable[[], None], queue: TimerQueue) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False
        self.queue: TimerQueue | None = queue

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            if self.queue is not None:
                self.queue._on_cancel()
                self.queue = None


class TimerQueue:
    """A heap of deadlines served by one loop timer."""

    def __init__(self, granularity: float = 0.05) -> None:
        self._granularity = granularity
        self._heap: list[tuple[float, int, Timer]] = []
        self._cancelled = 0  # cancelled entries still in the heap
        self._seq = 0
        self._armed_at = math.inf
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def time(self) -> float:
        return self._get_loop().time()

    def schedule(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` after ``delay`` seconds (rounded up to the granularity)."""
        loop = self._loop
        if loop is None:
            loop = self._get_loop()
        g = self._granularity
        deadline = math.ceil((loop.time() + (delay if delay > 0.0 else 0.0)) / g) * g
        timer = Timer(deadline, callback, self)
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, timer))
        if deadline < self._armed_at:
            self._arm(deadline)
        return timer

    def _on_cancel(self) -> None:
        """Drop cancelled entries once they are the majority, so long deadlines that get
        cancelled (refreshed expirations) cannot pile up."""
        self._cancelled += 1
        if self._cancelled > 1024 and self._cancelled * 2 > len(self._heap):
            self._heap = [e for e in self._heap if not e[2].cancelled]
            heapq.heapify(self._heap)
            self._cancelled = 0

    def _arm(self, deadline: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = deadline
        self._handle = self._get_loop().call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._armed_at = math.inf
        loop = self._get_loop()
        now = loop.time()
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, timer = heapq.heappop(heap)
            if timer.cancelled:
                self._cancelled = max(0, self._cancelled - 1)
                continue
            timer.cancelled = True
            timer.queue = None
            try:
                timer.callback()
            except Exception as exc:  # a failing callback must not stop the others
                name = getattr(timer.callback, "__qualname__", type(timer.callback).__name__)
                failures.failure(f"timer callback {name}", exc, key=(name, type(exc)))
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
            self._cancelled = max(0, self._cancelled - 1)
        if heap:
            self._arm(heap[0][0])

    def __len__(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._heap.clear()
        self._cancelled = 0
        self._armed_at = math.inf
