"""The Redis broker: PUB/SUB fan-out between nodes, history streams, idempotency (EN-03..EN-06).

Theory of operation
-------------------
Every publish runs one Lua script on the channel's shard (reliability plan §0.3): it checks
the idempotency result (HR-12) and the version (HR-13), creates or refreshes the stream meta
``<prefix>.stream.meta.<ch>`` (a new random epoch when missing, HR-01), increments the offset,
``XADD``s the publication to ``<prefix>.stream.<ch>`` with the offset as entry ID and
``MAXLEN history_size``, sets TTLs, and ``PUBLISH``es it on ``<prefix>.client.<ch>`` tagged
with offset and epoch — all atomically, so every node sees offsets in order. With
``use_lists`` (``history_use_lists``, HR-15) history lives in ``<prefix>.list.<ch>`` with meta
``<prefix>.list.meta.<ch>`` instead; ``history_scripts`` describes both layouts.

Publications without history and without an idempotency key need no script: they are one
plain ``PUBLISH`` of the same message with offset 0 and an empty epoch, which is what the script
would send. Every command goes through the shard's automatic pipeline (``Shard.execute``), so
concurrent publishes, history reads and presence events share one Redis round trip.

Local delivery follows ``base.Broker``'s rule for brokers that fan out through PUB/SUB, as
Centrifugo does: when this node is subscribed to the channel, ``publish`` returns once Redis
has accepted the message, and the node's own subscribers get it when it comes back through
PUB/SUB, in stream order with every other node's publications; when it is not subscribed, the
publication is handed to the handler before ``publish`` returns. Each message carries the
node id and a sequence number: ``_echo`` holds the awaited ones, so a node never delivers its
own message twice, and one timer (``_sweep_echoes``) hands a message to the handler locally
when its echo is not back within ``io_timeout`` (or at once when the PUB/SUB connection
breaks), so a publication accepted by Redis reaches this node's subscribers in any case.

A lost PUB/SUB connection is re-established with backoff; the channels it carried are reported
to ``handler.handle_pubsub_lost(channels)`` (when the handler has it) once resubscribed, so the
node can re-check positions (3010 / ``recovered: false``) instead of leaving a silent gap.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import RedisError

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
from centripetal.engines.memory.broker import new_epoch
from centripetal.engines.redis import codec
from centripetal.engines.redis.history_scripts import (
    HISTORY_LIST_SCRIPT,
    HISTORY_STREAM_SCRIPT,
    PUBLISH_LIST_SCRIPT,
    PUBLISH_STREAM_SCRIPT,
)
from centripetal.engines.redis.pubsub import PubSubConnection
from centripetal.engines.redis.scripts import Script
from centripetal.engines.redis.sharding import Shard, shard_index
from centripetal.observability.logs import describe_exception, failure_log

__all__ = ["DEFAULT_HISTORY_META_TTL", "RedisBroker"]

log = logging.getLogger("centripetal.engines.redis")
failures = failure_log("centripetal.engines.redis")

DEFAULT_HISTORY_META_TTL = 720 * 3600.0
DEFAULT_IDEMPOTENT_RESULT_TTL = 300.0

# (publish, history, history key kind, meta key kind) per layout (HR-15)
_STREAM = (Script(PUBLISH_STREAM_SCRIPT), Script(HISTORY_STREAM_SCRIPT), "stream", "stream.meta")
_LIST = (Script(PUBLISH_LIST_SCRIPT), Script(HISTORY_LIST_SCRIPT), "list", "list.meta")


class _Late:
    """Marks an awaited echo whose deadline passed before Redis answered the publish."""


_LATE = _Late()


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisBroker:
    """``base.Broker`` over one or more Redis shards (EN-03, EN-04); history in streams, or
    in lists with ``use_lists`` (HR-15)."""

    def __init__(
        self,
        shards: Sequence[Shard],
        *,
        prefix: str = "centrifugo",
        io_timeout: float = 4.0,
        history_meta_ttl: float = DEFAULT_HISTORY_META_TTL,
        wall_clock: Callable[[], float] = time.time,
        ping_interval: float = 1.0,
        use_lists: bool = False,
    ) -> None:
        if not shards:
            raise EngineError("redis broker needs at least one shard")
        self._shards = list(shards)
        self.use_lists = use_lists
        self._publish_script, self._history_script, self._hist_kind, self._meta_kind = (
            _LIST if use_lists else _STREAM
        )
        self._prefix = prefix
        self._client_prefix = f"{prefix}.client."
        self._control_channel = f"{prefix}.control"
        self._io_timeout = io_timeout
        self._meta_ttl = history_meta_ttl
        self._wall_clock = wall_clock
        self._handler: BrokerEventHandler | None = None
        self.node_id = uuid.uuid4().hex
        self._seq = 0
        # seq -> what delivers it locally if its echo does not come: None until Redis accepted
        # it, _LATE when the deadline passed first (delivered by the publish itself then)
        self._echo: dict[int, Callable[[], None] | _Late | None] = {}
        self._echo_deadlines: deque[tuple[float, int]] = deque()
        self._echo_sweep: asyncio.TimerHandle | None = None
        self._pubsubs = [
            PubSubConnection(
                shard,
                self._on_message,
                self._on_lost,
                self._on_down,
                io_timeout=io_timeout,
                ping_interval=ping_interval,
            )
            for shard in self._shards
        ]

    # -- lifecycle ---------------------------------------------------------------------------

    def set_event_handler(self, handler: BrokerEventHandler) -> None:
        self._handler = handler

    async def run(self) -> None:
        """Start one PUB/SUB reader per shard (idempotent); shard 0 carries control (EN-10)."""
        self._pubsubs[0].wanted.add(self._control_channel)
        for ps in self._pubsubs:
            ps.start()

    async def close(self) -> None:
        if self._echo_sweep is not None:
            self._echo_sweep.cancel()
            self._echo_sweep = None
        for ps in self._pubsubs:
            await ps.close()
        self._on_down()
        for shard in self._shards:
            await shard.close()

    @property
    def prefix(self) -> str:
        """The key prefix (``engine.redis.prefix``)."""
        return self._prefix

    @property
    def history_kind(self) -> str:
        """``stream`` or ``list``: the middle of the history key's name (HR-15)."""
        return self._hist_kind

    @property
    def shards(self) -> list[Shard]:
        return self._shards

    @property
    def pubsubs(self) -> list[PubSubConnection]:
        return self._pubsubs

    def shard_of(self, channel: str) -> int:
        return shard_index(channel, len(self._shards))

    # -- PUB/SUB -----------------------------------------------------------------------------

    def _pubsub_channel(self, shard: Shard, channel: str) -> str:
        return shard.key(self._prefix, "client", channel)

    def _user_channel(self, redis_channel: str) -> str:
        name = redis_channel[len(self._client_prefix) :]
        if name.startswith("{") and name.endswith("}"):
            name = name[1:-1]
        return name

    async def subscribe(self, channel: str) -> None:
        i = self.shard_of(channel)
        await self._pubsubs[i].subscribe(self._pubsub_channel(self._shards[i], channel))

    async def unsubscribe(self, channel: str) -> None:
        i = self.shard_of(channel)
        self._pubsubs[i].unsubscribe(self._pubsub_channel(self._shards[i], channel))

    def _on_message(self, redis_channel: str, payload: bytes) -> None:
        """Reader hot path: decode and hand to the handler; own messages only when awaited."""
        handler = self._handler
        try:
            msg = codec.decode_message(payload)
        except Exception as exc:
            failures.failure(
                f"redis broker message on {redis_channel!r}",
                f"malformed, dropped ({describe_exception(exc)})",
                key="malformed message",
                level=logging.WARNING,
            )
            return
        if msg.kind == codec.KIND_CONTROL:
            if msg.node != self.node_id and handler is not None:
                handler.handle_control(msg.data)
            return
        if msg.node == self.node_id:
            if msg.seq not in self._echo:
                return  # delivered locally already (not subscribed then, or timed out)
            del self._echo[msg.seq]
        if handler is None:
            return
        channel = self._user_channel(redis_channel)
        if msg.kind == codec.KIND_PUB:
            assert msg.pub is not None
            handler.handle_publication(
                channel,
                msg.pub,
                StreamPosition(msg.offset, msg.epoch),
                msg.use_delta,
                msg.prev,
            )
        elif msg.kind == codec.KIND_JOIN:
            assert msg.info is not None
            handler.handle_join(channel, msg.info)
        else:
            assert msg.info is not None
            handler.handle_leave(channel, msg.info)

    def _on_lost(self, redis_channels: list[str]) -> None:
        """After a PUB/SUB reconnect: tell the node which channels may have missed messages."""
        hook = getattr(self._handler, "handle_pubsub_lost", None)
        channels = [self._user_channel(ch) for ch in redis_channels if ch != self._control_channel]
        if hook is not None and channels:
            hook(channels)

    def _on_down(self) -> None:
        """The PUB/SUB connection broke: awaited echoes will not come, deliver them locally."""
        self._echo_deadlines.clear()
        for seq, deliver in list(self._echo.items()):
            if deliver is None:
                self._echo[seq] = _LATE  # the publish delivers it once Redis answers
            elif not isinstance(deliver, _Late):
                del self._echo[seq]
                self._deliver_locally(deliver)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _deliver_locally(self, deliver: Callable[[], None]) -> None:
        if self._handler is not None:
            deliver()

    def _accepted(self, seq: int, awaited: bool, deliver: Callable[[], None]) -> None:
        """Redis accepted message ``seq``: deliver it here now unless its echo will."""
        if not awaited:
            self._deliver_locally(deliver)
        elif seq in self._echo:  # not back yet
            if self._echo[seq] is _LATE:
                del self._echo[seq]
                self._deliver_locally(deliver)
            else:
                self._echo[seq] = deliver

    def _expect_echo(self, shard_i: int, redis_channel: str, seq: int) -> bool:
        """Whether this node's subscription will bring message ``seq`` back (then it is
        awaited until ``io_timeout``)."""
        if redis_channel in self._pubsubs[shard_i].confirmed:
            loop = asyncio.get_running_loop()
            self._echo[seq] = None
            self._echo_deadlines.append((loop.time() + self._io_timeout, seq))
            if self._echo_sweep is None:
                self._echo_sweep = loop.call_later(self._io_timeout / 4, self._sweep_echoes)
            return True
        return False

    def _sweep_echoes(self) -> None:
        """Echoes not back within ``io_timeout`` are delivered locally; deadlines are in
        publish order, so only the oldest are looked at."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadlines = self._echo_deadlines
        echo = self._echo
        while deadlines and deadlines[0][0] <= now:
            _, seq = deadlines.popleft()
            if seq not in echo:
                continue
            deliver = echo[seq]
            if deliver is None:
                echo[seq] = _LATE  # Redis has not answered: the publish delivers it
            elif not isinstance(deliver, _Late):
                del echo[seq]
                self._deliver_locally(deliver)
        self._echo_sweep = None
        if deadlines:
            self._echo_sweep = loop.call_later(self._io_timeout / 4, self._sweep_echoes)

    # -- publishing --------------------------------------------------------------------------

    async def _command(self, shard: Shard, *args: Any, key: str) -> Any:
        """One plain command on the shard's pipeline; a command lost with its connection is
        sent once more."""
        try:
            return await shard.execute(*args, key=key)
        except (RedisError, OSError, TimeoutError) as exc:
            raise EngineError(f"redis: {describe_exception(exc)}") from exc

    async def _call(self, script: Script, shard: Shard, keys: list[str], args: list[Any]) -> Any:
        try:
            return await script.run(shard, keys, args)
        except (RedisError, OSError, TimeoutError) as exc:
            raise EngineError(f"redis: {describe_exception(exc)}") from exc

    async def publish(
        self, channel: str, data: bytes, opts: PublishOptions
    ) -> tuple[StreamPosition, bool]:
        """One atomic script per publish (HR-01, HR-09, HR-12, HR-13, EN-06)."""
        i = self.shard_of(channel)
        shard = self._shards[i]
        pub = Publication(
            data=data,
            info=opts.client_info,
            tags=opts.tags,
            time=int(self._wall_clock() * 1000),
        )
        raw = codec.encode_publication(pub)
        history = opts.history_size > 0 and opts.history_ttl > 0
        rch = self._pubsub_channel(shard, channel)
        seq = self._next_seq()
        if not history and not opts.idempotency_key:
            return await self._publish_plain(channel, i, rch, seq, pub, raw, opts.use_delta)
        meta_ttl = opts.history_meta_ttl if opts.history_meta_ttl > 0 else self._meta_ttl
        result_ttl = opts.idempotent_result_ttl or DEFAULT_IDEMPOTENT_RESULT_TTL
        keys = [
            shard.key(self._prefix, self._hist_kind, channel),
            shard.key(self._prefix, self._meta_kind, channel),
            shard.key(self._prefix, "result", channel, opts.idempotency_key),
            rch,
        ]
        args: list[Any] = [
            raw,
            codec.make_head(self.node_id, seq, opts.use_delta),
            opts.history_size if history else 0,
            _ms(opts.history_ttl) if history else 0,
            int(meta_ttl * 1000) if meta_ttl > 0 else 0,
            new_epoch(),
            1 if opts.use_delta else 0,
            opts.version,
            opts.version_epoch,
            _ms(result_ttl),
            1 if opts.idempotency_key else 0,
        ]
        awaited = self._expect_echo(i, rch, seq)
        try:
            offset, epoch, suppressed, prev = await self._call(
                self._publish_script, shard, keys, args
            )
        except BaseException:
            self._echo.pop(seq, None)
            raise
        position = StreamPosition(int(offset), _str(epoch))
        if suppressed:
            self._echo.pop(seq, None)
            return position, True
        pub.offset = position.offset
        prev_pub = codec.decode_publication(prev, pub.offset - 1) if prev else None

        def deliver() -> None:
            assert self._handler is not None
            self._handler.handle_publication(channel, pub, position, opts.use_delta, prev_pub)

        self._accepted(seq, awaited, deliver)
        return StreamPosition(position.offset, position.epoch), False

    async def _publish_plain(
        self,
        channel: str,
        shard_i: int,
        rch: str,
        seq: int,
        pub: Publication,
        raw: bytes,
        use_delta: bool,
    ) -> tuple[StreamPosition, bool]:
        """A publication without history or idempotency key: one ``PUBLISH`` of the message
        the script would send (offset 0, empty epoch, no previous publication)."""
        head = codec.make_head(self.node_id, seq, use_delta)
        payload = b"".join((b"P", head.encode(), b":0::0:", raw))
        awaited = self._expect_echo(shard_i, rch, seq)
        try:
            await self._command(self._shards[shard_i], "PUBLISH", rch, payload, key=rch)
        except BaseException:
            self._echo.pop(seq, None)
            raise
        position = StreamPosition(0, "")

        def deliver() -> None:
            assert self._handler is not None
            self._handler.handle_publication(channel, pub, position, use_delta, None)

        self._accepted(seq, awaited, deliver)
        return StreamPosition(0, ""), False

    async def _publish_presence_event(self, kind: str, channel: str, info: ClientInfo) -> None:
        i = self.shard_of(channel)
        shard = self._shards[i]
        rch = self._pubsub_channel(shard, channel)
        seq = self._next_seq()
        payload = (kind + codec.make_head(self.node_id, seq, False) + ":").encode()
        payload += codec.encode_info(info)
        awaited = self._expect_echo(i, rch, seq)
        try:
            await self._command(shard, "PUBLISH", rch, payload, key=rch)
        except BaseException:
            self._echo.pop(seq, None)
            raise

        def deliver() -> None:
            assert self._handler is not None
            if kind == "J":
                self._handler.handle_join(channel, info)
            else:
                self._handler.handle_leave(channel, info)

        self._accepted(seq, awaited, deliver)

    async def publish_join(self, channel: str, info: ClientInfo) -> None:
        """PR-04: join messages go through PUB/SUB, at most once, no history."""
        await self._publish_presence_event("J", channel, info)

    async def publish_leave(self, channel: str, info: ClientInfo) -> None:
        """PR-04: leave messages go through PUB/SUB."""
        await self._publish_presence_event("L", channel, info)

    async def publish_control(self, data: bytes) -> None:
        """EN-10: send ``data`` to every other node on ``<prefix>.control`` (shard 0)."""
        head = codec.make_head(self.node_id, self._next_seq(), False)
        payload = b"C" + head.encode() + b":" + data
        channel = self._control_channel
        await self._command(self._shards[0], "PUBLISH", channel, payload, key=channel)

    # -- history -----------------------------------------------------------------------------

    async def history(self, channel: str, flt: HistoryFilter) -> HistoryResult:
        """P-36 / HR-11 / API-18: same arithmetic as the memory broker; creates the meta."""
        shard = self._shards[self.shard_of(channel)]
        meta_ttl = flt.meta_ttl if flt.meta_ttl > 0 else self._meta_ttl
        since = flt.since
        keys = [
            shard.key(self._prefix, self._hist_kind, channel),
            shard.key(self._prefix, self._meta_kind, channel),
        ]
        args: list[Any] = [
            new_epoch(),
            int(meta_ttl * 1000) if meta_ttl > 0 else 0,
            flt.limit if flt.limit >= 0 else -1,
            since.offset if since is not None else -1,
            1 if flt.reverse else 0,
            since.epoch if since is not None else "",
        ]
        reply = await self._call(self._history_script, shard, keys, args)
        position = StreamPosition(int(reply[0]), _str(reply[1]))
        if int(reply[2]) == 1:
            raise UnrecoverablePositionError("unrecoverable position", position=position)
        pubs: list[Publication] = []
        for j in range(3, len(reply), 2):
            entry_id = _str(reply[j])  # "<offset>-0" from a stream, "<offset>" from a list
            offset = int(entry_id.partition("-")[0])
            pubs.append(codec.decode_publication(reply[j + 1], offset))
        return HistoryResult(pubs, position)

    async def remove_history(self, channel: str) -> None:
        """API-19: drop the stream (or list), keep the meta (offset and epoch)."""
        shard = self._shards[self.shard_of(channel)]
        key = shard.key(self._prefix, self._hist_kind, channel)
        await self._command(shard, "DEL", key, key=key)
