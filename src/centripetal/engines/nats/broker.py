"""The NATS broker: at-most-once PUB/SUB between nodes, without history (EN-07, EN-08).

Theory of operation
-------------------
Publications, joins and leaves of a channel go to the subject ``<prefix>.client.<channel>``;
control messages (EN-10) to ``<prefix>.control``. The connection is opened with ``no_echo``,
so a node never receives its own messages back: ``publish`` hands the publication to the
local handler itself once NATS accepted it, which keeps the ``base.Broker`` contract
("delivered when publish returns") and delivers every message exactly once per node. With
``allow_wildcards`` a channel such as ``news.*`` is a NATS wildcard subscription: other nodes'
publications to ``news.a`` reach it through NATS, this node's own are handed to it by
``publish`` (``subject_matches``), since NATS does not echo them back.

NATS keeps nothing (EN-08: no history, recovery or positioning), as in Centrifugo:
``publish`` ignores history options and answers the empty position ``(0, "")``; ``history``
and ``remove_history`` raise :class:`NotAvailableError` (error 108, E-108). Idempotency keys
and versions are not checked: nothing remembers earlier publications.

With ``broker.nats.tls`` the connection is TLS or nothing: nats-py upgrades only when the
server's INFO says ``tls_required``, so ``_TLSOnlyClient`` also upgrades when it says
``tls_available`` and fails the connection when the server offers neither (as the Go client
does), instead of going on in plain text.

The client library reconnects by itself and restores every subscription; after a reconnect
``handler.handle_pubsub_lost(channels)`` (when the handler has it) is told which channels may
have missed messages. While disconnected every operation fails at once with ``EngineError``
(nothing is buffered); every call is bounded by ``write_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from centripetal.engines.base import (
    BrokerEventHandler,
    ClientInfo,
    EngineError,
    HistoryFilter,
    HistoryResult,
    PublishOptions,
    StreamPosition,
)
from centripetal.engines.base import Publication as Pub
from centripetal.engines.nats import codec
from centripetal.observability.logs import describe_exception, failure_log

if TYPE_CHECKING:
    from centripetal.tls import ClientTLS

__all__ = ["NatsBroker", "NotAvailableError", "UnsupportedChannelError", "subject_matches"]

log = logging.getLogger("centripetal.engines.nats")
failures = failure_log("centripetal.engines.nats")  # one line per outage, repeats counted

RECONNECT_WAIT = 0.5  # seconds between reconnect attempts
PING_INTERVAL = 5  # seconds; two missed pongs drop the connection


class NotAvailableError(EngineError):
    """The operation does not exist with this broker: history (E-108, EN-08)."""

    code = 108


class UnsupportedChannelError(EngineError):
    """A channel NATS cannot carry: wildcards (``*``, ``>``) unless allowed (E-107, EN-08)."""

    code = 107


def _has_wildcard(channel: str) -> bool:
    return "*" in channel or ">" in channel


def subject_matches(pattern: str, channel: str) -> bool:
    """NATS subject matching of a wildcard channel: ``*`` stands for one dot-separated
    token, a final ``>`` for one or more."""
    want = pattern.split(".")
    have = channel.split(".")
    for i, token in enumerate(want):
        if token == ">" and i == len(want) - 1:
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(have) == len(want)


class _TLSOnlyClient(Client):
    """A NATS client that never goes on in plain text once TLS is configured (EN-08)."""

    async def _process_info(self, info: dict[str, Any], initial_connection: bool = False) -> None:
        if initial_connection and not info.get("tls_required"):
            if not info.get("tls_available"):
                raise NatsError(
                    "nats: secure connection not available: broker.nats.tls is enabled but the "
                    "server offers no TLS"
                )
            info["tls_required"] = True  # the server accepts TLS: upgrade before CONNECT
        await super()._process_info(info, initial_connection)


class NatsBroker:
    """``base.Broker`` over one NATS connection (EN-08)."""

    def __init__(
        self,
        url: str = "nats://localhost:4222",
        *,
        prefix: str = "centrifugo",
        dial_timeout: float = 1.0,
        write_timeout: float = 1.0,
        tls: ClientTLS | None = None,
        allow_wildcards: bool = False,
        reconnect_wait: float = RECONNECT_WAIT,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._servers = [u.strip() for u in url.split(",") if u.strip()] or [
            "nats://localhost:4222"
        ]
        self._prefix = prefix
        self._client_prefix = f"{prefix}.client."
        self._control_subject = f"{prefix}.control"
        self._dial_timeout = dial_timeout
        self._write_timeout = write_timeout
        self._tls = tls
        self._last_error: Exception | None = None
        self._allow_wildcards = allow_wildcards
        self._reconnect_wait = reconnect_wait
        self._wall_clock = wall_clock
        self._handler: BrokerEventHandler | None = None
        # where publish hands its own publications on this node (no_echo: NATS does not)
        self._deliver: Callable[[str, Pub, StreamPosition, bool, Pub | None], None] | None = None
        self._wildcards: set[str] = set()  # subscribed wildcard channels (allow_wildcards)
        self._nc: Client | None = None
        self._subs: dict[str, Any] = {}
        self._subscribing: dict[str, asyncio.Future[None]] = {}
        self.reconnects = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def set_event_handler(self, handler: BrokerEventHandler) -> None:
        self._handler = handler
        self._deliver = (
            self._deliver_with_wildcards if self._allow_wildcards else handler.handle_publication
        )

    def _deliver_with_wildcards(
        self, channel: str, pub: Pub, position: StreamPosition, use_delta: bool, prev: Pub | None
    ) -> None:
        """A publication of this node reaches its subscribers of ``channel`` and of every
        subscribed wildcard channel it matches, as NATS delivers those of other nodes."""
        handler = self._handler
        assert handler is not None
        handler.handle_publication(channel, pub, position, use_delta, prev)
        for pattern in self._wildcards:
            if subject_matches(pattern, channel):
                handler.handle_publication(pattern, pub, position, use_delta, None)

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    @property
    def subscribed_channels(self) -> list[str]:
        return sorted(self._subs)

    def subject(self, channel: str) -> str:
        """The NATS subject of a channel (EN-08)."""
        return self._client_prefix + channel

    async def run(self) -> None:
        """Connect (bounded by ``dial_timeout`` per server) and listen on the control subject."""
        if self._nc is not None and not self._nc.is_closed:
            return
        # The client retries forever once connected; the first connect gets one dial budget
        # per server, and a node whose NATS is unreachable fails to start (as Centrifugo).
        budget = self._dial_timeout * len(self._servers) + self._write_timeout
        tls = self._tls
        nc = _TLSOnlyClient() if tls is not None else Client()
        options: dict[str, Any] = {}
        if tls is not None:
            options["tls"] = tls.context
            if tls.server_name:
                options["tls_hostname"] = tls.server_name
        try:
            connect = nc.connect(
                servers=self._servers,
                connect_timeout=self._dial_timeout,  # type: ignore[arg-type]
                reconnect_time_wait=self._reconnect_wait,  # type: ignore[arg-type]
                max_reconnect_attempts=-1,
                allow_reconnect=True,
                no_echo=True,
                **options,
                ping_interval=PING_INTERVAL,
                flush_timeout=self._write_timeout,
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
            )
            await asyncio.wait_for(connect, budget)
        except (NatsError, OSError, TimeoutError) as exc:
            servers = ",".join(self._servers)
            last = f" (last error: {self._last_error})" if self._last_error is not None else ""
            raise EngineError(f"nats: cannot connect to {servers}: {exc!r}{last}") from exc
        self._nc = nc
        try:
            await nc.subscribe(self._control_subject, cb=self._on_control)
            await nc.flush(timeout=self._write_timeout)  # type: ignore[arg-type]
        except (NatsError, OSError, TimeoutError) as exc:
            await self.close()
            raise EngineError(f"nats: control subscription failed: {exc!r}") from exc
        log.info("nats broker connected to %s", nc.connected_url.netloc if nc.connected_url else "")

    async def close(self) -> None:
        nc, self._nc = self._nc, None
        self._subs.clear()
        self._wildcards.clear()
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), self._write_timeout + self._dial_timeout)

    async def _on_error(self, exc: Exception) -> None:
        self._last_error = exc
        failures.failure("nats broker", exc, key=("error", type(exc)), level=logging.WARNING)

    async def _on_disconnected(self) -> None:
        if self._nc is not None:
            log.warning("nats broker disconnected; reconnecting")

    async def _on_reconnected(self) -> None:
        """Subscriptions are restored; publications sent meanwhile were missed (R-6)."""
        self.reconnects += 1
        hook = getattr(self._handler, "handle_pubsub_lost", None)
        channels = sorted(self._subs)
        log.info("nats broker reconnected; %d channels may have missed messages", len(channels))
        if hook is not None and channels:
            try:
                hook(channels)
            except Exception as exc:
                failures.failure("nats broker lost-channels callback", exc)

    def _client(self) -> Client:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise EngineError("nats: not connected")
        return nc

    # -- PUB/SUB -----------------------------------------------------------------------------

    def _check_channel(self, channel: str, *, subscribe: bool) -> None:
        if _has_wildcard(channel) and not (subscribe and self._allow_wildcards):
            raise UnsupportedChannelError(f"nats: wildcard channel {channel!r} not supported")

    async def subscribe(self, channel: str) -> None:
        """Listen on the channel's subject; returns once NATS has registered it."""
        self._check_channel(channel, subscribe=True)
        if channel in self._subs:
            return
        pending = self._subscribing.get(channel)
        if pending is not None:
            await asyncio.shield(pending)
            return
        nc = self._client()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._subscribing[channel] = fut
        sub = None
        try:
            sub = await asyncio.wait_for(
                nc.subscribe(self.subject(channel), cb=self._callback(channel)),
                self._write_timeout,
            )
            await nc.flush(timeout=self._write_timeout)  # type: ignore[arg-type]
        except (NatsError, OSError, TimeoutError) as exc:
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
            err = EngineError(f"nats: subscribe to {channel!r} failed: {exc!r}")
            fut.set_exception(err)
            fut.exception()  # retrieved: concurrent subscribers may not exist
            raise err from exc
        finally:
            self._subscribing.pop(channel, None)
        self._subs[channel] = sub
        if _has_wildcard(channel):
            self._wildcards.add(channel)
        fut.set_result(None)

    async def unsubscribe(self, channel: str) -> None:
        pending = self._subscribing.get(channel)
        if pending is not None:
            with contextlib.suppress(EngineError):
                await asyncio.shield(pending)
        sub = self._subs.pop(channel, None)
        if sub is None:
            return
        self._wildcards.discard(channel)
        try:
            await asyncio.wait_for(sub.unsubscribe(), self._write_timeout)
        except (NatsError, OSError, TimeoutError) as exc:
            # The subscription is gone on our side and will not be restored on reconnect.
            log.debug("nats unsubscribe from %r: %r", channel, exc)

    def _callback(self, channel: str) -> Callable[[Msg], Any]:
        async def on_msg(msg: Msg) -> None:
            self._on_message(channel, msg.data)

        return on_msg

    async def _on_control(self, msg: Msg) -> None:
        handler = self._handler
        if handler is not None:
            handler.handle_control(msg.data)

    def _on_message(self, channel: str, payload: bytes) -> None:
        """Reader hot path: decode and hand to the handler."""
        handler = self._handler
        if handler is None:
            return
        try:
            msg = codec.decode(payload)
        except Exception as exc:
            failures.failure(
                f"nats broker message on {channel!r}",
                f"malformed, dropped ({describe_exception(exc)})",
                key="malformed message",
                level=logging.WARNING,
            )
            return
        if msg.kind == codec.KIND_PUB:
            assert msg.pub is not None
            handler.handle_publication(channel, msg.pub, StreamPosition(), msg.use_delta, None)
        elif msg.kind == codec.KIND_JOIN:
            assert msg.info is not None
            handler.handle_join(channel, msg.info)
        else:
            assert msg.info is not None
            handler.handle_leave(channel, msg.info)

    async def _send(self, subject: str, payload: bytes) -> None:
        """Queue one message; the client's flusher writes what queued up together. It only
        waits when its pending buffer is full, and then at most ``flush_timeout``, which is
        ``write_timeout`` here (so no timer of our own per publish)."""
        nc = self._client()
        try:
            await nc.publish(subject, payload)
        except (NatsError, OSError, TimeoutError) as exc:
            raise EngineError(f"nats: publish to {subject!r} failed: {exc!r}") from exc

    async def publish(
        self, channel: str, data: bytes, opts: PublishOptions
    ) -> tuple[StreamPosition, bool]:
        """EN-08: at-most-once fan-out; history options are ignored (nothing is stored)."""
        self._check_channel(channel, subscribe=False)
        pub = Pub(
            data=data, info=opts.client_info, tags=opts.tags, time=int(self._wall_clock() * 1000)
        )
        await self._send(self.subject(channel), codec.encode_publication(pub, opts.use_delta))
        deliver = self._deliver
        if deliver is not None:
            deliver(channel, pub, StreamPosition(), opts.use_delta, None)
        return StreamPosition(), False

    async def _publish_presence_event(self, kind: str, channel: str, info: ClientInfo) -> None:
        self._check_channel(channel, subscribe=False)
        await self._send(self.subject(channel), codec.encode_join_leave(kind, info))
        handler = self._handler
        if handler is None:
            return
        if kind == codec.KIND_JOIN:
            handler.handle_join(channel, info)
        else:
            handler.handle_leave(channel, info)

    async def publish_join(self, channel: str, info: ClientInfo) -> None:
        """PR-04: joins go through PUB/SUB, at most once."""
        await self._publish_presence_event(codec.KIND_JOIN, channel, info)

    async def publish_leave(self, channel: str, info: ClientInfo) -> None:
        """PR-04: leaves go through PUB/SUB, at most once."""
        await self._publish_presence_event(codec.KIND_LEAVE, channel, info)

    async def publish_control(self, data: bytes) -> None:
        """EN-10: send ``data`` to every other node on ``<prefix>.control``."""
        await self._send(self._control_subject, data)

    # -- history (not available, EN-08) ------------------------------------------------------

    async def history(self, channel: str, flt: HistoryFilter) -> HistoryResult:
        """EN-08: NATS keeps no stream; answers error 108 like Centrifugo."""
        raise NotAvailableError("history is not available with the nats broker")

    async def remove_history(self, channel: str) -> None:
        """EN-08: nothing to remove; error 108 like Centrifugo."""
        raise NotAvailableError("history is not available with the nats broker")
