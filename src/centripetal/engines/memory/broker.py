"""The memory broker: history streams, idempotency and fan-out inside one process (EN-02).

Theory of operation
-------------------
The memory engine serves a **single node**: there is no PUB/SUB between processes, so
``publish`` appends to the channel stream and hands the publication to the node's event
handler in the same synchronous step (no ``await`` in between), which makes append + fan-out
atomic per channel and keeps offsets gap-free for subscribers (HR-01, HR-03).

A stream (HR-01) holds an epoch (8 random letters, new for every stream instance), the top
offset (starts at 1 for the first publication) and at most ``history_size`` publications,
each expiring ``history_ttl`` after it was published. The stream meta lives for
``history_meta_ttl`` (refreshed on publish and on history reads); when it expires the stream
is forgotten and the next access starts a new epoch from offset 0, so clients see
``recovered: false`` instead of a silent hole. All data is lost on restart (new epochs).

Nothing runs per channel: expiry is applied lazily on every access, and one cleanup task
(started by :meth:`MemoryBroker.run`) pops due deadlines from a single heap with bounded work
per tick, so channels nobody touches are trimmed and dropped (DESIGN §5).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import string
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from centripetal.engines.base import (
    BrokerEventHandler,
    ClientInfo,
    EngineError,
    HistoryFilter,
    HistoryResult,
    Publication,
    PublishOptions,
    StreamPosition,
    UnrecoverablePositionError,
)

__all__ = ["DEFAULT_HISTORY_META_TTL", "MemoryBroker", "MemoryBrokerStats", "new_epoch"]

DEFAULT_HISTORY_META_TTL = 720 * 3600.0
DEFAULT_IDEMPOTENT_RESULT_TTL = 300.0

_KIND_PUBS = 0
_KIND_META = 1
_KIND_RESULT = 2

_EPOCH_LETTERS = string.ascii_letters


def new_epoch() -> str:
    """A new stream epoch: 8 random letters (HR-01)."""
    return "".join(random.choices(_EPOCH_LETTERS, k=8))


class _Stream:
    """One channel stream: epoch, top offset, ``(expires_at, pub)`` entries, last version."""

    __slots__ = (
        "entries",
        "epoch",
        "meta_expires_at",
        "meta_scheduled",
        "pubs_scheduled",
        "top",
        "version",
        "version_epoch",
    )

    def __init__(self) -> None:
        self.epoch = new_epoch()
        self.top = 0
        self.entries: deque[tuple[float, Publication]] = deque()
        self.meta_expires_at = float("inf")
        self.meta_scheduled = False
        self.pubs_scheduled = False
        self.version = 0
        self.version_epoch = ""

    def expire(self, now: float) -> None:
        entries = self.entries
        while entries and entries[0][0] <= now:
            entries.popleft()

    def append(self, pub: Publication, expires_at: float, size: int) -> None:
        entries = self.entries
        # Keep expiry times non-decreasing (a shorter TTL than before): older publications
        # never outlive newer ones, so expiry only ever trims the head and leaves no hole.
        if entries and entries[-1][0] > expires_at:
            kept = [(min(exp, expires_at), p) for exp, p in entries]
            entries.clear()
            entries.extend(kept)
        entries.append((expires_at, pub))
        while len(entries) > size:
            entries.popleft()

    def position(self) -> StreamPosition:
        return StreamPosition(self.top, self.epoch)


@dataclass(slots=True)
class _Result:
    """A cached publish result for idempotent publishing (HR-12)."""

    expires_at: float
    position: StreamPosition


@dataclass(slots=True)
class MemoryBrokerStats:
    """Sizes of the broker's internal tables (for tests and metrics)."""

    streams: int
    publications: int
    results: int
    scheduled: int


class MemoryBroker:
    """``base.Broker`` for a single node, everything in process memory (EN-02, HR-01..HR-13).

    ``clock`` gives monotonic seconds for every TTL; ``wall_clock`` gives the unix time stamped
    on publications (``time``, P-42). Both are injectable so tests need not sleep.
    """

    def __init__(
        self,
        history_meta_ttl: float = DEFAULT_HISTORY_META_TTL,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        cleanup_interval: float = 1.0,
        cleanup_batch: int = 10_000,
    ) -> None:
        self._meta_ttl = history_meta_ttl
        self._clock = clock
        self._wall_clock = wall_clock
        self._cleanup_interval = cleanup_interval
        self._cleanup_batch = cleanup_batch
        self._handler: BrokerEventHandler | None = None
        self._streams: dict[str, _Stream] = {}
        self._results: dict[tuple[str, str], _Result] = {}
        self._heap: list[tuple[float, int, int, object, object]] = []
        self._seq = itertools.count()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def set_event_handler(self, handler: BrokerEventHandler) -> None:
        self._handler = handler

    async def run(self) -> None:
        """Start the periodic cleanup task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._cleanup_loop(), name="memory-broker-cleanup"
            )

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _cleanup_loop(self) -> None:
        while True:
            await asyncio.sleep(self._cleanup_interval)
            self.cleanup()

    def cleanup(self) -> int:
        """Apply due expirations (at most ``cleanup_batch`` heap items); return items handled."""
        now = self._clock()
        heap = self._heap
        handled = 0
        while heap and heap[0][0] <= now and handled < self._cleanup_batch:
            _, _, kind, key, obj = heapq.heappop(heap)
            handled += 1
            if kind == _KIND_RESULT:
                assert isinstance(key, tuple)
                if self._results.get(key) is obj:
                    del self._results[key]
                continue
            assert isinstance(key, str) and isinstance(obj, _Stream)
            if self._streams.get(key) is not obj:
                continue  # the stream was dropped or recreated since
            if kind == _KIND_META:
                obj.meta_scheduled = False
                if obj.meta_expires_at <= now:
                    del self._streams[key]
                else:
                    self._schedule_meta(key, obj)
            else:
                obj.pubs_scheduled = False
                obj.expire(now)
                self._schedule_pubs(key, obj)
        return handled

    def stats(self) -> MemoryBrokerStats:
        return MemoryBrokerStats(
            streams=len(self._streams),
            publications=sum(len(s.entries) for s in self._streams.values()),
            results=len(self._results),
            scheduled=len(self._heap),
        )

    # -- scheduling helpers ------------------------------------------------------------------

    def _push(self, deadline: float, kind: int, key: object, obj: object) -> None:
        heapq.heappush(self._heap, (deadline, next(self._seq), kind, key, obj))

    def _schedule_meta(self, channel: str, stream: _Stream) -> None:
        if not stream.meta_scheduled and stream.meta_expires_at != float("inf"):
            stream.meta_scheduled = True
            self._push(stream.meta_expires_at, _KIND_META, channel, stream)

    def _schedule_pubs(self, channel: str, stream: _Stream) -> None:
        if not stream.pubs_scheduled and stream.entries:
            stream.pubs_scheduled = True
            self._push(stream.entries[0][0], _KIND_PUBS, channel, stream)

    def _live_stream(self, channel: str, now: float) -> _Stream | None:
        """The channel's stream with expiry applied, or None (meta expired or never created)."""
        stream = self._streams.get(channel)
        if stream is None:
            return None
        if stream.meta_expires_at <= now:
            del self._streams[channel]
            return None
        stream.expire(now)
        return stream

    def _touch_meta(self, channel: str, stream: _Stream, meta_ttl: float, now: float) -> None:
        ttl = meta_ttl if meta_ttl > 0 else self._meta_ttl
        stream.meta_expires_at = now + ttl if ttl > 0 else float("inf")
        self._schedule_meta(channel, stream)

    def _stream_for_write(self, channel: str, meta_ttl: float, now: float) -> _Stream:
        stream = self._live_stream(channel, now)
        if stream is None:
            stream = _Stream()
            self._streams[channel] = stream
        self._touch_meta(channel, stream, meta_ttl, now)
        return stream

    # -- publishing --------------------------------------------------------------------------

    def _event_handler(self) -> BrokerEventHandler:
        if self._handler is None:
            raise EngineError("memory broker: event handler is not set")
        return self._handler

    async def publish_control(self, data: bytes) -> None:
        """No-op: there is no other node (EN-02)."""

    async def subscribe(self, channel: str) -> None:
        """No-op: a single node receives every publication already (EN-02)."""

    async def unsubscribe(self, channel: str) -> None:
        """No-op (EN-02)."""

    async def publish(
        self, channel: str, data: bytes, opts: PublishOptions
    ) -> tuple[StreamPosition, bool]:
        """Append (when history is on) and fan out in one step (HR-01, HR-12, HR-13, HR-09)."""
        handler = self._event_handler()
        now = self._clock()
        result_key = (channel, opts.idempotency_key)
        if opts.idempotency_key:
            cached = self._results.get(result_key)
            if cached is not None:
                if cached.expires_at > now:
                    pos = cached.position
                    return StreamPosition(pos.offset, pos.epoch), True
                del self._results[result_key]

        pub = Publication(
            data=data,
            info=opts.client_info,
            tags=opts.tags,
            time=int(self._wall_clock() * 1000),
        )
        prev_pub: Publication | None = None
        if opts.history_size > 0 and opts.history_ttl > 0:
            stream = self._stream_for_write(channel, opts.history_meta_ttl, now)
            if opts.version > 0 and (
                (not opts.version_epoch or opts.version_epoch == stream.version_epoch)
                and opts.version <= stream.version
            ):
                return stream.position(), True
            if opts.use_delta and stream.entries:
                prev_pub = stream.entries[-1][1]
            stream.top += 1
            pub.offset = stream.top
            if opts.version > 0:
                stream.version = opts.version
                stream.version_epoch = opts.version_epoch
            stream.append(pub, now + opts.history_ttl, opts.history_size)
            self._schedule_pubs(channel, stream)
            position = stream.position()
        else:
            position = StreamPosition()

        if opts.idempotency_key:
            ttl = opts.idempotent_result_ttl or DEFAULT_IDEMPOTENT_RESULT_TTL
            entry = _Result(now + ttl, StreamPosition(position.offset, position.epoch))
            self._results[result_key] = entry
            self._push(entry.expires_at, _KIND_RESULT, result_key, entry)

        handler.handle_publication(channel, pub, position, opts.use_delta, prev_pub)
        return StreamPosition(position.offset, position.epoch), False

    async def publish_join(self, channel: str, info: ClientInfo) -> None:
        """PR-04: hand the join to the node (at-most-once, no history)."""
        self._event_handler().handle_join(channel, info)

    async def publish_leave(self, channel: str, info: ClientInfo) -> None:
        """PR-04: hand the leave to the node."""
        self._event_handler().handle_leave(channel, info)

    # -- history -----------------------------------------------------------------------------

    async def history(self, channel: str, flt: HistoryFilter) -> HistoryResult:
        """P-36 / HR-11 / API-18 semantics; creates the stream meta when missing.

        ``limit == 0``: position only; ``limit < 0``: no limit. Forward reads return offsets
        greater than ``since.offset`` ascending; reverse reads return offsets lower than
        ``since.offset`` (or all when no ``since``), newest first. A ``since.epoch`` other than
        the current one raises :class:`UnrecoverablePositionError` (112) carrying the top; an
        empty ``since.epoch`` matches any epoch. Returned publications are shared: read-only.
        """
        now = self._clock()
        stream = self._stream_for_write(channel, flt.meta_ttl, now)
        self._schedule_pubs(channel, stream)
        position = stream.position()
        since = flt.since
        if since is not None and since.epoch and since.epoch != stream.epoch:
            raise UnrecoverablePositionError("unrecoverable position", position=position)
        if flt.limit == 0:
            return HistoryResult([], position)
        pubs = [pub for _, pub in stream.entries]
        if flt.reverse:
            if since is not None:
                pubs = [p for p in pubs if p.offset < since.offset]
            pubs.reverse()
        elif since is not None:
            first = pubs[0].offset if pubs else stream.top + 1
            pubs = pubs[max(0, since.offset + 1 - first) :]
        if flt.limit > 0:
            pubs = pubs[: flt.limit]
        return HistoryResult(pubs, position)

    async def remove_history(self, channel: str) -> None:
        """API-19: drop the publications, keep the stream meta (offset and epoch)."""
        stream = self._live_stream(channel, self._clock())
        if stream is not None:
            stream.entries.clear()
