"""One PUB/SUB connection per shard with its reader task (EN-04, EN-06, reliability R-6).

The connection is a plain RESP connection without any retry of its own: when it breaks
(server restart, ``CLIENT KILL TYPE pubsub``, missed pings) the reader reconnects with a
bounded exponential backoff, subscribes every wanted channel again and reports the channels
that were subscribed before to ``on_lost``: publications sent meanwhile were missed, so their
positions are uncertain and must be re-checked (never a silent gap).

Subscribes are batched: calls made in the same loop iteration go out as one ``SUBSCRIBE``.
Messages are read in large slices and parsed with hiredis, many per wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

import hiredis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError

from centripetal.engines.base import EngineError
from centripetal.engines.redis.pipeline import READ_SIZE, raw_streams, reply_error
from centripetal.engines.redis.sharding import Shard, TLSConnection
from centripetal.observability.logs import failure_log

__all__ = ["PubSubConnection"]

log = logging.getLogger("centripetal.engines.redis")
failures = failure_log("centripetal.engines.redis")  # one line per outage, repeats counted


def _where(shard: Shard) -> str:
    """The shard's hosts for a log line (never its credentials)."""
    return ",".join(f"{host}:{port}" for host, port in shard.address.hosts) or "redis"


BATCH = 512
BACKOFF_MIN = 0.05
BACKOFF_MAX = 5.0


class PubSubConnection:
    """The PUB/SUB side of one shard.

    ``on_message(redis_channel, payload)`` runs in the reader for every message;
    ``on_lost(redis_channels)`` runs after a reconnect restored the subscriptions;
    ``on_down()`` runs as soon as the connection is found broken.
    """

    def __init__(
        self,
        shard: Shard,
        on_message: Callable[[str, bytes], None],
        on_lost: Callable[[list[str]], None],
        on_down: Callable[[], None],
        *,
        io_timeout: float,
        ping_interval: float = 1.0,
    ) -> None:
        self._shard = shard
        self._on_message = on_message
        self._on_lost = on_lost
        self._on_down = on_down
        self._io_timeout = io_timeout
        self._ping_interval = ping_interval
        self.wanted: set[str] = set()
        self.confirmed: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._pending_sub: set[str] = set()
        self._pending_unsub: set[str] = set()
        self._flush_scheduled = False
        self._conn: Connection | None = None
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._last_rx = time.monotonic()
        self._closed = False
        self.reconnects = 0
        self._restoring: set[str] = set()
        self._restored: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._closed = False
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="redis-pubsub-reader"
            )

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_connection()
        self._fail_waiters("redis pubsub closed")

    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def kill_connection(self) -> None:
        """Drop the current connection (tests and health checks); the reader reconnects."""
        conn = self._conn
        if conn is not None:
            await conn.disconnect(nowait=True)

    # -- subscriptions -----------------------------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        """Subscribe and wait until Redis confirmed it (at most ``io_timeout``)."""
        self.wanted.add(channel)
        self._pending_unsub.discard(channel)
        if channel in self.confirmed:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, []).append(fut)
        self._pending_sub.add(channel)
        self._schedule_flush()
        try:
            await asyncio.wait_for(asyncio.shield(fut), self._io_timeout)
        except TimeoutError as exc:
            self.wanted.discard(channel)
            self._pending_sub.discard(channel)
            waiters = self._waiters.get(channel)
            if waiters is not None and fut in waiters:
                waiters.remove(fut)  # never leave a waiter behind (bounded state)
                if not waiters:
                    del self._waiters[channel]
            raise EngineError(f"redis subscribe to {channel!r} timed out") from exc

    def unsubscribe(self, channel: str) -> None:
        self.wanted.discard(channel)
        self.confirmed.discard(channel)
        self._pending_sub.discard(channel)
        self._pending_unsub.add(channel)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        self._flush_scheduled = False
        conn = self._conn
        if conn is None:
            return  # the reader subscribes every wanted channel when it connects
        subs, self._pending_sub = sorted(self._pending_sub), set()
        unsubs, self._pending_unsub = sorted(self._pending_unsub), set()
        try:
            await self._send(conn, "SUBSCRIBE", subs)
            await self._send(conn, "UNSUBSCRIBE", unsubs)
        except Exception as exc:  # the reader notices the broken connection and recovers
            log.debug("redis pubsub write failed: %r", exc)

    async def _send(self, conn: Connection, command: str, channels: list[str]) -> None:
        for i in range(0, len(channels), BATCH):
            async with self._write_lock:
                await asyncio.wait_for(
                    conn.send_command(command, *channels[i : i + BATCH]), self._io_timeout
                )

    def _fail_waiters(self, reason: str) -> None:
        waiters, self._waiters = self._waiters, {}
        for futs in waiters.values():
            for fut in futs:
                if not fut.done():
                    fut.set_exception(EngineError(reason))
                    fut.exception()  # mark retrieved: the subscriber may have timed out

    # -- reader ------------------------------------------------------------------------------

    async def _connect(self, attempt: int) -> Connection:
        """A RESP2 connection whatever ``force_resp2`` says: redis-py reads RESP3 push frames
        at about half the rate (EN-03, ``sharding``)."""
        host, port, kwargs = await self._shard.pubsub_target(attempt)
        conn: Connection
        tls = self._shard.tls
        if tls is not None:  # verified as configured (EN-03), never "none" behind the user's back
            conn = TLSConnection(
                tls=tls.client, host=host, port=port, socket_timeout=None, protocol=2, **kwargs
            )
        else:
            conn = Connection(host=host, port=port, socket_timeout=None, protocol=2, **kwargs)
        await asyncio.wait_for(conn.connect(), self._io_timeout + self._shard.timeouts.connect)
        return conn

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.disconnect(nowait=True)

    async def _run(self) -> None:
        backoff = BACKOFF_MIN
        attempt = 0
        lost: set[str] = set()
        while not self._closed:
            try:
                conn = await self._connect(attempt)
            except Exception as exc:
                attempt += 1
                failures.failure(  # the reason may be a TLS verification failure
                    f"redis pubsub connect to {_where(self._shard)}",
                    exc,
                    key=("pubsub connect", _where(self._shard)),
                    level=logging.WARNING,
                )
                await asyncio.sleep(backoff * (0.5 + random.random() / 2))
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            backoff = BACKOFF_MIN
            self._conn = conn
            self._last_rx = time.monotonic()
            pinger = asyncio.get_running_loop().create_task(self._ping_loop(conn))
            self._pending_sub.clear()
            try:
                await self._send(conn, "SUBSCRIBE", sorted(self.wanted))
                self._restoring = {ch for ch in lost if ch in self.wanted}
                self._restored = sorted(self._restoring)
                lost = set()
                await self._read_loop(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures.failure(
                    f"redis pubsub connection to {_where(self._shard)}",
                    exc,
                    key=("pubsub lost", _where(self._shard)),
                    level=logging.WARNING,
                )
            finally:
                pinger.cancel()
                if self._conn is conn:
                    self._conn = None
                with contextlib.suppress(Exception):
                    await conn.disconnect(nowait=True)
            lost |= self.confirmed | self._restoring
            self.confirmed = set()
            self._restoring = set()
            self.reconnects += 1
            self._on_down()

    def _notify_lost(self, channels: list[str]) -> None:
        try:
            self._on_lost(channels)
        except Exception as exc:
            failures.failure("redis pubsub lost-channels callback", exc)

    async def _read_loop(self, conn: Connection) -> None:
        """Read the connection in large slices and parse them with hiredis: one wake-up hands
        every message that arrived to ``on_message`` (``pipeline.raw_streams``)."""
        stream, _ = raw_streams(conn)
        parser = hiredis.Reader()
        on_message = self._on_message
        while True:
            data = await stream.read(READ_SIZE)
            if not data:
                raise RedisConnectionError("connection closed by the server")
            self._last_rx = time.monotonic()
            parser.feed(data)
            while (reply := parser.gets()) is not False:
                if isinstance(reply, hiredis.ReplyError):
                    raise reply_error(reply)
                if not isinstance(reply, list) or not reply:
                    continue
                kind = reply[0]
                if kind == b"message":
                    on_message(reply[1].decode(), reply[2])
                elif kind == b"subscribe":
                    self._confirm(reply[1].decode())

    def _confirm(self, channel: str) -> None:
        if channel not in self.wanted:
            return
        self.confirmed.add(channel)
        if channel in self._restoring:
            self._restoring.discard(channel)
            if not self._restoring:
                restored, self._restored = self._restored, []
                self._notify_lost(restored)
        for fut in self._waiters.pop(channel, ()):
            if not fut.done():
                fut.set_result(None)

    async def _ping_loop(self, conn: Connection) -> None:
        """Ping on an idle connection; drop it when nothing came back within ``io_timeout``."""
        while True:
            await asyncio.sleep(self._ping_interval)
            idle = time.monotonic() - self._last_rx
            if idle > self._ping_interval + self._io_timeout:
                await conn.disconnect(nowait=True)
                return
            if idle >= self._ping_interval:
                with contextlib.suppress(Exception):
                    async with self._write_lock:
                        await asyncio.wait_for(conn.send_command("PING"), self._io_timeout)
