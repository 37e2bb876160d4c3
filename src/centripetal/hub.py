"""The local subscriber index and the fan-out path (DESIGN §3, §5; spec P-42, P-43, HR-03, HR-09).

Theory of operation
-------------------
The hub maps ``channel -> {client_id: Subscriber}``. A publication arriving from the broker is
encoded at most once per (codec, variant) — full payload, full payload for fossil-delta
subscribers (a JSON string on JSON codecs), the delta itself — lazily, only when some
subscriber needs it, and the same bytes object is appended to every subscriber's connection
queue. Codecs are pluggable (JSON, protobuf, and the legacy protocol later): the hub only calls
their push encoders. Nothing here awaits: the connection writers flush once per loop iteration.

Positioned subscribers (HR-03) track the offset and epoch of the last publication they were
given: an older offset is skipped (duplicate), a jump past ``last + 1`` or a new epoch is
"insufficient state" and is reported to the subscriber's session, which unsubscribes the
client with 2500 (client-side subscription) or disconnects it with 3010 (server-side).

With ``client.channel_position_max_time_lag`` set, a publication that reaches this node later
than that after it was published (its ``time`` against the node's wall clock) is insufficient
state for every positioned subscriber too: PUB/SUB fell behind, so the stream may already have
moved past what live delivery can catch up with (HR-03). The node decides per publication,
only when the option is on, so the fan-out loop pays nothing for it otherwise.

A subscriber that is still subscribing (its reply not yet written) has a ``buffer``: live
publications are kept there and merged with the recovered ones by the session (HR-07).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from centripetal.core.fossil import create_delta
from centripetal.core.recovery import is_lagging
from centripetal.core.tags_filter import matches as tags_matches
from centripetal.engines.base import ClientInfo, Publication, StreamPosition
from centripetal.observability.metrics import NodeMetrics

if TYPE_CHECKING:
    from centripetal.config.schema import ChannelOptions
    from centripetal.core.session import ClientSession
    from centripetal.protocol.codec import Codec
    from centripetal.protocol.messages import FilterNode
    from centripetal.timers import Timer


class Subscriber:
    """One subscription of one connection, with its delivery state."""

    __slots__ = (
        "buffer",
        "chan_info",
        "channel",
        "codec",
        "delta",
        "delta_ready",
        "epoch",
        "expire_at",
        "join_leave",
        "last_offset",
        "options",
        "positioned",
        "presence",
        "push_join_leave",
        "recoverable",
        "server_side",
        "session",
        "tags_filter",
        "timer",
        "write",
    )

    def __init__(self, session: ClientSession, channel: str, options: ChannelOptions) -> None:
        self.session = session
        self.codec: Codec = session.codec
        self.write = session.sink.enqueue  # straight to the connection queue (fan-out path)
        self.channel = channel
        self.options = options
        self.server_side = False
        self.positioned = False
        self.recoverable = False
        self.push_join_leave = False
        self.join_leave = False  # publish join/leave for this subscription
        self.presence = False  # keep a presence entry for this subscription
        self.delta = False  # fossil delta negotiated
        self.delta_ready = False  # a full payload was delivered since subscribe
        self.last_offset = 0
        self.epoch = ""
        self.expire_at = 0
        self.chan_info: bytes | None = None
        self.buffer: list[tuple[Publication, StreamPosition]] | None = None
        self.timer: Timer | None = None
        self.tags_filter: FilterNode | None = None  # HR-14


_raw_json = msgspec.json.Decoder(msgspec.Raw)


class _Encodings:
    """Lazily built wire variants of one publication, shared by all subscribers."""

    __slots__ = ("_delta_bytes", "_json_ok", "_v", "channel", "epoch", "prev", "pub")

    def __init__(
        self, channel: str, pub: Publication, prev: Publication | None, position: StreamPosition
    ) -> None:
        self.channel = channel
        self.pub = pub
        self.prev = prev
        # the first publication of a stream carries its epoch (P-42, as Centrifugo)
        self.epoch = position.epoch if pub.offset == 1 else ""
        self._v: dict[int, bytes] = {}
        self._delta_bytes: bytes | None = None
        self._json_ok: bool | None = None

    def json_ok(self) -> bool:
        """Can JSON clients receive the payload embedded? (P-08; else D-3506)."""
        ok = self._json_ok
        if ok is None:
            try:
                _raw_json.decode(self.pub.data)
                ok = True
            except (msgspec.DecodeError, RecursionError):  # nesting too deep: not embeddable
                ok = False
            self._json_ok = ok
        return ok

    def delta_payload(self) -> bytes | None:
        """The fossil delta against the previous publication, or None when not smaller."""
        if self._delta_bytes is None:
            prev = self.prev
            if prev is None:
                self._delta_bytes = b""
            else:
                d = create_delta(prev.data, self.pub.data)
                self._delta_bytes = d if len(d) < len(self.pub.data) else b""
        return self._delta_bytes or None

    def get(self, codec: Codec, mode: int) -> bytes:
        """The push for ``codec``; mode 0: full payload, 1: full payload for a fossil-delta
        subscriber (JSON carries it as a string, HR-09), 2: the delta itself."""
        key = codec.slot * 3 + mode
        msg = self._v.get(key)
        if msg is not None:
            return msg
        pub = self.pub
        epoch = self.epoch
        if mode == 0:
            msg = codec.encode_pub_push(
                self.channel, pub.data, pub.info, pub.offset, pub.tags, epoch=epoch
            )
        elif mode == 1:
            msg = codec.encode_pub_push(
                self.channel,
                pub.data,
                pub.info,
                pub.offset,
                pub.tags,
                data_as_string=True,
                epoch=epoch,
            )
        else:
            delta = self.delta_payload()
            assert delta is not None
            msg = codec.encode_pub_push(
                self.channel,
                delta,
                pub.info,
                pub.offset,
                pub.tags,
                delta=True,
                data_as_string=True,
                epoch=epoch,
            )
        self._v[key] = msg
        return msg


class Hub:
    """Channel -> subscribers on this node, and fan-out of broker messages."""

    def __init__(
        self,
        metrics: NodeMetrics | None = None,
        *,
        max_time_lag: float = 0.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._channels: dict[str, dict[str, Subscriber]] = {}
        self.metrics = metrics if metrics is not None else NodeMetrics()
        # HR-03 client.channel_position_max_time_lag in ms; 0 = off
        self.max_time_lag_ms = int(max_time_lag * 1000)
        self.wall_clock = wall_clock

    def is_lagging(self, pub: Publication) -> bool:
        """HR-03: did ``pub`` arrive later than ``channel_position_max_time_lag`` allows?"""
        return is_lagging(pub.time, int(self.wall_clock() * 1000), self.max_time_lag_ms)

    # -- index -----------------------------------------------------------------------------

    def add(self, sub: Subscriber) -> bool:
        """Register ``sub``; True when it is the first subscriber of its channel on this node."""
        subs = self._channels.get(sub.channel)
        first = subs is None
        if subs is None:
            subs = self._channels[sub.channel] = {}
        subs[sub.session.client_id] = sub
        return first

    def remove(self, channel: str, client_id: str) -> bool:
        """Unregister; True when the channel has no subscribers left on this node."""
        subs = self._channels.get(channel)
        if subs is None:
            return False
        subs.pop(client_id, None)
        if not subs:
            del self._channels[channel]
            return True
        return False

    def subscribers(self, channel: str) -> list[Subscriber]:
        subs = self._channels.get(channel)
        return list(subs.values()) if subs else []

    def num_subscribers(self, channel: str) -> int:
        subs = self._channels.get(channel)
        return len(subs) if subs else 0

    def channels(self) -> dict[str, int]:
        return {ch: len(subs) for ch, subs in self._channels.items()}

    def num_channels(self) -> int:
        return len(self._channels)

    # -- fan-out ---------------------------------------------------------------------------

    def broadcast_publication(
        self,
        channel: str,
        pub: Publication,
        position: StreamPosition,
        use_delta: bool,
        prev_pub: Publication | None,
        lagged: bool = False,
    ) -> None:
        """Deliver one publication to every local subscriber of ``channel`` (P-42).

        ``lagged``: the publication came later than ``channel_position_max_time_lag``
        allows, which positioned subscribers take as insufficient state (HR-03)."""
        subs = self._channels.get(channel)
        if not subs:
            return
        enc = _Encodings(channel, pub, prev_pub if use_delta else None, position)
        offset = pub.offset
        epoch = position.epoch
        insufficient: list[Subscriber] | None = None
        delivered = 0
        full: dict[Codec, bytes] = {}  # mode-0 messages, the common case, without a call
        for sub in list(subs.values()):
            if sub.buffer is not None:
                sub.buffer.append((pub, position))
                continue
            delta_base_ok = False
            if sub.positioned and offset:
                last = sub.last_offset
                if lagged or sub.epoch != epoch or offset > last + 1:
                    if insufficient is None:
                        insufficient = []
                    insufficient.append(sub)
                    continue
                if offset <= last:
                    continue  # stale duplicate (HR-03)
                delta_base_ok = prev_pub is not None and prev_pub.offset == last
                sub.last_offset = offset
            if sub.tags_filter is not None and not tags_matches(sub.tags_filter, pub.tags):
                continue  # filtered out; positioning already accounted for it (HR-14)
            codec = sub.codec
            if sub.delta:
                if not codec.binary and not enc.json_ok():
                    sub.session.disconnect(3506)  # non-JSON payload for a JSON client (P-08)
                    continue
                if sub.delta_ready and use_delta and delta_base_ok and enc.delta_payload():
                    msg = enc.get(codec, 2)
                else:
                    msg = enc.get(codec, 1)
                    sub.delta_ready = True
            else:
                msg = full.get(codec)  # type: ignore[assignment]
                if msg is None:
                    if not codec.binary and not enc.json_ok():
                        sub.session.disconnect(3506)
                        continue
                    msg = full[codec] = enc.get(codec, 0)
            sub.write(msg)
            delivered += 1
        self.metrics.messages_sent["publication"] += delivered
        if insufficient:
            for sub in insufficient:
                sub.session.on_insufficient_state(sub)

    def deliver_to(self, sub: Subscriber, pub: Publication, position: StreamPosition) -> None:
        """Deliver one publication to one subscriber (buffered during subscribe, HR-07),
        with the same positioning rules as ``broadcast_publication`` and a full payload."""
        offset = pub.offset
        if sub.positioned and offset:
            if (
                sub.epoch != position.epoch
                or offset > sub.last_offset + 1
                or (self.max_time_lag_ms and self.is_lagging(pub))
            ):
                sub.session.on_insufficient_state(sub)
                return
            if offset <= sub.last_offset:
                return
            sub.last_offset = offset
        if sub.tags_filter is not None and not tags_matches(sub.tags_filter, pub.tags):
            return
        enc = _Encodings(sub.channel, pub, None, position)
        msg = enc.get(sub.session.codec, 1 if sub.delta else 0)
        sub.delta_ready = True
        sub.session.enqueue(msg)

    def broadcast_join(self, channel: str, info: ClientInfo) -> None:
        self._broadcast_presence_event(channel, info, join=True)

    def broadcast_leave(self, channel: str, info: ClientInfo) -> None:
        self._broadcast_presence_event(channel, info, join=False)

    def _broadcast_presence_event(self, channel: str, info: ClientInfo, *, join: bool) -> None:
        """Join/leave pushes go only to subscribers with push_join_leave (P-43, PR-04)."""
        subs = self._channels.get(channel)
        if not subs:
            return
        cache: dict[int, bytes] = {}
        for sub in list(subs.values()):
            if not sub.push_join_leave or sub.buffer is not None:
                continue
            codec = sub.session.codec
            msg = cache.get(codec.slot)
            if msg is None:
                encode = codec.encode_join_push if join else codec.encode_leave_push
                msg = cache[codec.slot] = encode(channel, info)
            sub.session.enqueue(msg)
            self.metrics.messages_sent["join" if join else "leave"] += 1
