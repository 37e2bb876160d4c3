"""Automatic pipelining: every command to one Redis server shares one connection (EN-03, EN-04).

Centrifugo talks to Redis through a client that pipelines automatically; this module does the
same for the engine's commands (publish scripts, history reads, presence updates, plain
``PUBLISH``): a call queues its command and returns a future; the commands queued while the
event loop was busy go out as one write on the server's dedicated connection, and a reader
task matches the replies to the futures first in, first out. So N publishes issued in one
loop iteration cost one write, one read and one Redis round trip instead of N, and commands
reach Redis in the order they were issued (publications of a channel keep their order).

Errors are per command: an error reply (``WRONGTYPE``, ``NOSCRIPT``, a failing script) fails
only the caller that sent it. ``READONLY`` (the server became a replica in a Sentinel failover)
is treated as a broken connection: the next connection goes to the master Sentinel names. A
broken connection fails every command already written with
``redis.exceptions.ConnectionError`` (the server may or may not have run them) and the next
command opens a new connection. A connection that answers nothing for ``io_timeout`` while
commands wait is dropped the same way with ``redis.exceptions.TimeoutError``.

The connection is opened by redis-py (handshake, AUTH, ``CLIENT SETNAME``, TLS exactly as the
shard is configured) and then read in large slices through hiredis, written without a
round trip per command (hiredis packs the commands); ``raw_streams`` is the one place that
reaches redis-py's streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import hiredis
from hiredis import pack_command
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = ["MAX_BATCH", "READ_SIZE", "Pipeline", "raw_streams", "reply_error"]

MAX_BATCH = 1024  # commands per write; later ones go out in the next write
READ_SIZE = 1 << 16
WRITE_HIGH_WATER = 1 << 20  # wait for the socket to drain above this many buffered bytes

Opener = Callable[[], Awaitable[AbstractConnection]]


def raw_streams(conn: AbstractConnection) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The reader and writer under a connected redis-py connection.

    redis-py reads replies one coroutine chain at a time in 4 KiB slices; the engine's readers
    take them by the thousand from one ``read``."""
    reader = getattr(conn, "_reader", None)
    writer = getattr(conn, "_writer", None)
    if not isinstance(reader, asyncio.StreamReader) or not isinstance(writer, asyncio.StreamWriter):
        raise RedisConnectionError("redis connection has no open stream")
    return reader, writer


def reply_error(reply: hiredis.ReplyError) -> ResponseError:
    """A hiredis error reply as the redis-py exception its callers already handle."""
    message = str(reply)
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ResponseError(message)


class Pipeline:
    """Commands to one server over one connection, pipelined (see the module docstring).

    ``open_connection`` returns a connected redis-py connection; it is called when the first
    command needs one and again after a failure. ``io_timeout`` bounds how long commands wait
    for the server without any reply coming back; ``connect_timeout`` bounds the opening."""

    def __init__(
        self,
        open_connection: Opener,
        *,
        io_timeout: float,
        connect_timeout: float,
        name: str = "redis",
    ) -> None:
        self._open_connection = open_connection
        self._io_timeout = io_timeout
        self._connect_timeout = connect_timeout
        self.name = name
        self._queue: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._inflight: deque[asyncio.Future[Any]] = deque()
        self._conn: AbstractConnection | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._progress = 0.0
        self._closed = False
        self.connections_opened = 0
        self.writes = 0

    # -- calling -----------------------------------------------------------------------------

    def send(self, *args: Any) -> asyncio.Future[Any]:
        """Queue one command; the future gets its reply, or the error for this command."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if self._closed:
            fut.set_exception(RedisConnectionError(f"{self.name}: pipeline closed"))
            return fut
        self._queue.append((args, fut))
        if self._writer_task is None:
            self._writer_task = loop.create_task(self._write_queued())
        return fut

    async def execute(self, *args: Any, retry: bool = True) -> Any:
        """One command and its reply. With ``retry`` a command lost with a broken connection
        is sent once more on a new one (a pooled connection may have died with a Redis
        restart; the rare double application is what idempotency keys cover, HR-12)."""
        try:
            return await self.send(*args)
        except RedisConnectionError:
            if not retry or self._closed:
                raise
        return await self.send(*args)

    @property
    def pending(self) -> int:
        """Commands queued or written and not answered yet."""
        return len(self._queue) + len(self._inflight)

    # -- writing -----------------------------------------------------------------------------

    async def _write_queued(self) -> None:
        try:
            while self._queue and not self._closed:
                writer = self._writer
                if writer is None or writer.is_closing():
                    writer = await self._connect()
                    if writer is None:
                        return
                batch = self._queue[:MAX_BATCH]
                del self._queue[:MAX_BATCH]
                packed = [pack_command(args) for args, _ in batch]
                if not self._inflight:
                    self._progress = time.monotonic()
                self._inflight.extend(fut for _, fut in batch)
                self._arm_watchdog()
                writer.writelines(packed)
                self.writes += 1
                if writer.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                    try:
                        await asyncio.wait_for(writer.drain(), self._io_timeout)
                    except (OSError, TimeoutError) as exc:
                        conn = self._conn
                        if conn is not None:
                            self._drop(conn, RedisTimeoutError(f"{self.name}: write: {exc!r}"))
                else:
                    await asyncio.sleep(0)  # let callers of this iteration join the next write
        finally:
            self._writer_task = None

    async def _connect(self) -> asyncio.StreamWriter | None:
        """Open the connection; on failure fail what is queued (nothing was sent)."""
        try:
            conn = await asyncio.wait_for(
                self._open_connection(), self._connect_timeout + self._io_timeout
            )
            reader, writer = raw_streams(conn)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            queued, self._queue = self._queue, []
            error = RedisConnectionError(f"{self.name}: connect: {exc}")
            for _, fut in queued:
                if not fut.done():
                    fut.set_exception(error)
            return None
        self.connections_opened += 1
        self._conn, self._writer = conn, writer
        self._reader_task = asyncio.get_running_loop().create_task(
            self._read_replies(conn, reader), name=f"{self.name}-pipeline-reader"
        )
        return writer

    # -- reading -----------------------------------------------------------------------------

    async def _read_replies(self, conn: AbstractConnection, stream: asyncio.StreamReader) -> None:
        parser = hiredis.Reader()
        inflight = self._inflight
        try:
            while True:
                data = await stream.read(READ_SIZE)
                if not data:
                    raise RedisConnectionError(f"{self.name}: connection closed by the server")
                parser.feed(data)
                while (reply := parser.gets()) is not False:
                    if not inflight:
                        raise RedisConnectionError(f"{self.name}: a reply nobody asked for")
                    fut = inflight.popleft()
                    if isinstance(reply, hiredis.ReplyError):
                        if str(reply).startswith("READONLY"):
                            # a Sentinel failover made this server a replica: reconnect (to
                            # the new master) and let the caller retry there
                            inflight.appendleft(fut)
                            raise RedisConnectionError(f"{self.name}: {reply}")
                        if not fut.done():
                            fut.set_exception(reply_error(reply))
                    elif not fut.done():  # a cancelled caller's reply is skipped in order
                        fut.set_result(reply)
                self._progress = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, RedisConnectionError)
                else RedisConnectionError(f"{self.name}: {exc!r}")
            )
            self._drop(conn, error)

    # -- failure -----------------------------------------------------------------------------

    def _arm_watchdog(self) -> None:
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().call_later(
                self._io_timeout / 4, self._check_progress
            )

    def _check_progress(self) -> None:
        """Drop a connection that answered nothing for ``io_timeout`` while commands wait."""
        self._watchdog = None
        if not self._inflight:
            return
        conn = self._conn
        if conn is not None and time.monotonic() - self._progress > self._io_timeout:
            self._drop(conn, RedisTimeoutError(f"{self.name}: no reply in {self._io_timeout}s"))
            return
        self._arm_watchdog()

    def _drop(self, conn: AbstractConnection, error: Exception) -> None:
        """Close ``conn`` and fail every command written on it."""
        if self._conn is not conn:
            return
        self._conn, self._writer = None, None
        reader_task, self._reader_task = self._reader_task, None
        if reader_task is not None and reader_task is not asyncio.current_task():
            reader_task.cancel()
        inflight, self._inflight = self._inflight, deque()
        for fut in inflight:
            if not fut.done():
                fut.set_exception(error)
                fut.exception()  # the caller may be gone already
        self._disconnect_soon(conn)
        if self._queue and self._writer_task is None and not self._closed:
            self._writer_task = asyncio.get_running_loop().create_task(self._write_queued())

    def _disconnect_soon(self, conn: AbstractConnection) -> None:
        task = asyncio.get_running_loop().create_task(conn.disconnect(nowait=True))
        task.add_done_callback(_ignore_result)

    def kill_connection(self) -> None:
        """Drop the current connection (tests); pending commands fail, the next reconnects."""
        conn = self._conn
        if conn is not None:
            self._drop(conn, RedisConnectionError(f"{self.name}: connection killed"))

    async def close(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        error = RedisConnectionError(f"{self.name}: pipeline closed")
        queued, self._queue = self._queue, []
        for _, fut in queued:
            if not fut.done():
                fut.set_exception(error)
                fut.exception()
        for task in (self._writer_task, self._reader_task):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._writer_task = self._reader_task = None
        conn = self._conn
        if conn is not None:
            self._conn, self._writer = None, None
            for fut in self._inflight:
                if not fut.done():
                    fut.set_exception(error)
                    fut.exception()
            self._inflight.clear()
            with contextlib.suppress(Exception):
                await conn.disconnect(nowait=True)


def _ignore_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
