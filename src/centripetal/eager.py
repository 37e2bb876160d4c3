"""Run a coroutine at once, in the current callback; continue it in a task only if it waits.

Most server API calls on the memory engine never wait: running them inside the read callback
saves a task and a loop turn per request (benchmark W5, G7). On Python 3.12+ this is
``asyncio.Task(eager_start=True)``, correct for any coroutine. Python 3.11 has no eager tasks:
there the coroutine is stepped by hand, which is safe only when nothing in it needs
``asyncio.current_task()`` (``asyncio.timeout``, aiohttp and redis timeouts) — the caller says
so with ``by_hand``; otherwise a plain task runs it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any

__all__ = ["EagerRunner"]

_HAS_EAGER_TASKS = sys.version_info >= (3, 12)


async def _resume(coro: Coroutine[Any, Any, Any], waited: Any) -> Any:
    """Go on with a coroutine that was stepped by hand and yielded ``waited``."""
    while True:
        if waited is None:  # a bare yield (asyncio.sleep(0))
            await asyncio.sleep(0)
        else:  # an asyncio future: wait for it; the coroutine reads its outcome itself
            waited._asyncio_future_blocking = False
            try:
                await asyncio.wait((waited,))
            except asyncio.CancelledError:
                coro.close()
                raise
        try:
            waited = coro.send(None)
        except StopIteration as done:
            return done.value


class EagerRunner:
    """``run(coro)`` -> ``(True, result)`` when it finished at once, else ``(False, future)``."""

    def __init__(self, *, by_hand: bool) -> None:
        self.by_hand = by_hand

    def run(self, coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
        loop = asyncio.get_running_loop()
        if _HAS_EAGER_TASKS:
            task = asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg]
            if task.done():
                return True, task.result()
            return False, task
        if not self.by_hand:
            return False, loop.create_task(coro)
        try:
            waited = coro.send(None)
        except StopIteration as done:
            return True, done.value
        return False, loop.create_task(_resume(coro, waited))
