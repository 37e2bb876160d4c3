"""Concurrent processing of one connection's commands: ``client.concurrency`` (spec P-26, P-27,
SV-09).

Theory of operation
-------------------
With ``client.concurrency`` N > 1 the commands Centrifugo hands to a goroutine under a
per-connection semaphore (its client handler's ``runConcurrentlyIfNeeded``) each run in a task of
their own here, at most N at once: ``subscribe``, ``publish``, ``presence``, ``presence_stats``,
``history``, ``refresh``, ``sub_refresh``, and ``rpc`` when an RPC proxy or the RPC ping answers
it. Every other command runs inline in the reader, in frame order, exactly as with N <= 1:
``connect`` (always first and alone: nothing else runs before it has finished), ``unsubscribe``,
``send``, pongs, and anything sent before the connection is connected. The reply of a concurrent
command is written when it finishes, so replies may come out of order (P-26); each carries its
command's id.

Bounds: the reader waits for a free slot before it starts the next concurrent command (as
Centrifugo's reader blocks on the semaphore), so a connection never has more than N tasks, and
a client that sends faster than its commands finish meets the transport's read back-pressure, as
a slow sequential command does. The frame budget (``client.max_commands_per_frame``) is applied
before commands get here, and replies go through the same sink and write budget
(``client.queue_max_size``, 3008).

Subscriptions: a subscribe in flight reserves its channel (centrifuge keeps it in the client's
channel map while subscribing), so a second subscribe to it is answered 105 and the channel limit
(106) counts it; an ``unsubscribe`` of a channel whose subscribe is in flight waits for that
subscribe first.

Closing: a disconnect decided by any command, or the transport going away, cancels the tasks in
flight; the session waits for them (``settle``) before it releases its subscriptions, so no task
adds one afterwards. Each task's outcome is retrieved in its done callback: nothing is left
unretrieved.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING

from centripetal.core.errors import CommandError
from centripetal.core.session import CLOSED, CONNECTED
from centripetal.observability.logs import failure_log

if TYPE_CHECKING:
    from centripetal.config.schema import Config
    from centripetal.core.session import ClientSession
    from centripetal.protocol.messages import Command

__all__ = ["ConcurrentCommands", "enable_concurrency"]

logger = logging.getLogger("centripetal.client")
failures = failure_log(logger.name)


def enable_concurrency(session: ClientSession, config: Config) -> None:
    """Give ``session`` a runner when ``client.concurrency`` > 1 (0 and 1: sequential)."""
    limit = config.client.concurrency
    if limit > 1:
        session.runner = ConcurrentCommands(session, limit)


class ConcurrentCommands:
    """The ``CommandRunner`` of one session (see the module docstring)."""

    __slots__ = (
        "_channel_limit",
        "_max_length",
        "_rpc",
        "session",
        "slots",
        "subscribing",
        "tasks",
    )

    def __init__(self, session: ClientSession, limit: int) -> None:
        self.session = session
        self.slots = asyncio.Semaphore(limit)
        self.tasks: set[asyncio.Task[bool]] = set()
        self.subscribing: dict[str, asyncio.Task[bool]] = {}  # channel -> its subscribe task
        node = session.node
        cfg = node.config
        self._channel_limit = cfg.client.channel_limit
        self._max_length = cfg.channel.max_length
        self._rpc = node.rpc_proxy is not None or cfg.rpc.ping.enabled

    # -- the reader side ---------------------------------------------------------------------

    async def handle(self, commands: list[Command]) -> None:
        """Start or run ``commands`` in frame order; returns once each has been run inline or
        started in a task of its own."""
        session = self.session
        for cmd in commands:
            if session.state == CLOSED:
                return
            if session.state != CONNECTED or not self._concurrent(cmd):
                unsubscribe = cmd.unsubscribe
                if unsubscribe is not None and cmd.subscribe is None:
                    await self._subscribe_settled(unsubscribe.channel)
                    if session.state == CLOSED:
                        return
                if not await session.run_command(cmd):
                    return
                continue
            subscribe = cmd.subscribe
            reserve = subscribe is not None and self._reservable(subscribe.channel)
            if reserve and self._refused(cmd, subscribe.channel):  # type: ignore[union-attr]
                continue
            await self.slots.acquire()
            if session.state == CLOSED:
                self.slots.release()
                return
            task = asyncio.get_running_loop().create_task(session.run_command(cmd))
            self.tasks.add(task)
            task.add_done_callback(self._done)
            if reserve:
                channel = subscribe.channel  # type: ignore[union-attr]
                self.subscribing[channel] = task
                task.add_done_callback(functools.partial(self._subscribe_done, channel))

    def _concurrent(self, cmd: Command) -> bool:
        """Whether ``cmd`` runs in a task (the request kinds in ``_dispatch`` order)."""
        if not cmd.id or cmd.connect is not None:
            return False
        if cmd.subscribe is not None:
            return True
        if cmd.unsubscribe is not None:
            return False
        if (
            cmd.publish is not None
            or cmd.presence is not None
            or cmd.presence_stats is not None
            or cmd.history is not None
        ):
            return True
        if cmd.rpc is not None:
            return self._rpc
        if cmd.send is not None:
            return False
        return cmd.refresh is not None or cmd.sub_refresh is not None

    # -- subscribe bookkeeping (P-31: 105, 106) -------------------------------------------------

    def _reservable(self, channel: str) -> bool:
        """Channels the session's own checks answer first (empty 3501, too long 107, already
        subscribed 105) are not reserved: the subscribe runs and gets that answer."""
        if not channel or len(channel) > self._max_length:
            return False
        return channel not in self.session.subs

    def _refused(self, cmd: Command, channel: str) -> bool:
        """105 when a subscribe to ``channel`` is in flight, 106 when the subscriptions and
        the subscribes in flight reach ``client.channel_limit``."""
        session = self.session
        subs = session.subs
        in_flight = self.subscribing.get(channel)
        if in_flight is not None and not in_flight.done():
            code = 105
        else:
            pending = sum(
                1 for ch, task in self.subscribing.items() if not task.done() and ch not in subs
            )
            if len(subs) + pending < self._channel_limit:
                return False
            code = 106
        session.command_failed(cmd, CommandError(code))
        return True

    async def _subscribe_settled(self, channel: str) -> None:
        """An unsubscribe waits for a subscribe of the same channel still in flight."""
        task = self.subscribing.get(channel)
        if task is not None and not task.done():
            await asyncio.wait((task,))

    def _subscribe_done(self, channel: str, task: asyncio.Task[bool]) -> None:
        if self.subscribing.get(channel) is task:
            del self.subscribing[channel]

    # -- tasks -------------------------------------------------------------------------------

    def _done(self, task: asyncio.Task[bool]) -> None:
        self.tasks.discard(task)
        self.slots.release()
        if task.cancelled():
            return
        exc = task.exception()  # run_command answers every Exception; this is anything else
        if exc is not None:
            failures.failure(
                f"command of client {self.session.client_id}", exc, key=("runner", type(exc))
            )

    def cancel(self) -> None:
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()

    async def settle(self) -> None:
        current = asyncio.current_task()
        while True:
            waiting = {task for task in self.tasks if task is not current}
            if not waiting:
                return
            await asyncio.wait(waiting)
