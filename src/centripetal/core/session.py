"""The client session: one connection's protocol v2 state machine (spec §1.2-§1.10, §6).

Theory of operation
-------------------
A transport decodes frames into ``Command`` objects and hands them to ``handle_commands``,
which processes them one at a time in order (P-26, P-27). With ``client.concurrency`` > 1 a
``CommandRunner`` (transports/concurrency.py) runs some of them concurrently instead, through
``run_command``; the session then cancels and waits for them when it closes.

The session owns no socket: it writes encoded messages through ``sink.enqueue`` (the transport
batches them into frames) and asks the transport to close through ``sink.close``. Every effect
on shared state goes through the ``Node`` (hub, broker, presence, timers), so tests drive a
session with no sockets.

States: NEW -> CONNECTED -> CLOSED, plus FAILED after a connect answered with an error (P-22:
any later command is a protocol violation, the stale timer closes the connection).

Handlers raise ``CommandError`` (error reply) or ``DisconnectRequest`` (close); everything
else escaping a handler is a server bug: answered with error 100 and logged.

Subscription logic lives in ``core.subscribing`` and channel operations in
``core.channel_ops``; this module holds the lifecycle: connect, refresh, ping/pong, timers,
close.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from centripetal.core.channel_ops import ChannelOpsMixin
from centripetal.core.channels import UnknownNamespaceError
from centripetal.core.errors import CommandError, DisconnectRequest
from centripetal.core.permissions import server_side_channel_allowed
from centripetal.core.personal import enforce_single_connection
from centripetal.core.subscribing import SubscribingMixin
from centripetal.core.tokens import TokenExpiredError, TokenInvalidError
from centripetal.engines.base import ClientInfo, EngineError
from centripetal.observability.logs import failure_log
from centripetal.protocol import codes, messages

if TYPE_CHECKING:
    from centripetal.hub import Subscriber
    from centripetal.node import Node
    from centripetal.protocol.codec import Codec
    from centripetal.timers import Timer

logger = logging.getLogger("centripetal.client")
failures = failure_log(logger.name)  # one line per failure, repeats counted

NEW, CONNECTED, FAILED, CLOSED = 0, 1, 2, 3

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})  # shared by sessions given none
_NO_CHANNELS: frozenset[str] = frozenset()

MAX_TTL = 365 * 24 * 3600  # P-94: TTL reported to clients is capped at 365 days
REFRESH_PROXY_RETRY = 60.0  # P-94: refresh proxy failure retried after 60 s


_COMMAND_KINDS = (
    "connect",
    "subscribe",
    "unsubscribe",
    "publish",
    "presence",
    "presence_stats",
    "history",
    "rpc",
    "send",
    "refresh",
    "sub_refresh",
    "ping",
)


def new_client_id() -> str:
    """A random (version 4) UUID in its 36-character form, as Centrifugo's client ids: what
    ``str(uuid.uuid4())`` gives, without building the ``UUID`` object on every connect."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _command_kind(cmd: messages.Command) -> str:
    """The request carried by ``cmd`` (P-20 order), ``"pong"`` for an empty command."""
    for kind in _COMMAND_KINDS:
        if getattr(cmd, kind) is not None:
            return kind
    return "pong"


class Sink(Protocol):
    """What a transport offers a session."""

    def enqueue(self, message: bytes) -> None:
        """Queue one encoded message; the transport frames and flushes it."""

    def close(self, code: int, reason: str) -> None:
        """Flush what is queued and close with a disconnect code (D-WS1)."""


class CommandRunner(Protocol):
    """Runs a connection's commands concurrently (``client.concurrency`` > 1, P-27)."""

    async def handle(self, commands: list[messages.Command]) -> None:
        """Run or start ``commands`` in frame order."""

    def cancel(self) -> None:
        """Cancel the commands in flight: the connection is closing."""

    async def settle(self) -> None:
        """Return once no command of the connection is in flight any more."""


class ClientSession(SubscribingMixin, ChannelOpsMixin):
    """One client connection (protocol v2)."""

    def __init__(
        self,
        node: Node,
        sink: Sink,
        codec: Codec,
        *,
        transport: str = "websocket",
        headers: Mapping[str, str] | None = None,
        emulation: bool = False,
    ) -> None:
        self.node = node
        self.sink = sink
        self.codec = codec
        self.binary: bool = codec.binary
        self.transport = transport
        self.headers = headers or _NO_HEADERS
        self.emulated_headers: dict[str, str] = {}  # ConnectRequest.headers (TR-15)
        self.emulation = emulation
        self.client_id = new_client_id()
        self.state = NEW
        self.user = ""
        self.conn_info: bytes | None = None
        self.meta: bytes | None = None
        self.expire_at = 0
        self.name = ""
        self.version = ""
        self.subs: dict[str, Subscriber] = {}
        self.token_channels = _NO_CHANNELS
        self.awaiting_pong = False
        self.registered = False
        self.runner: CommandRunner | None = None  # client.concurrency > 1 (P-27)
        self._ping_timer: Timer | None = None
        self._pong_timer: Timer | None = None
        self._expire_timer: Timer | None = None
        self._upkeep_timer: Timer | None = None
        self._last_position_check = time.monotonic()
        self._stale_timer: Timer | None = node.timers.schedule(
            node.config.client.stale_close_delay, self._check_stale
        )

    # -- output ----------------------------------------------------------------------------

    def enqueue(self, message: bytes) -> None:
        if self.state != CLOSED:
            self.sink.enqueue(message)

    def send_reply(self, reply: messages.Reply) -> None:
        self.enqueue(self.codec.encode_reply(reply))

    def send_error(self, cmd_id: int, err: CommandError) -> None:
        info = codes.error_info(err.code)
        message = err.message or info.message
        temporary = info.temporary if err.temporary is None else err.temporary
        self.send_reply(
            messages.Reply(
                id=cmd_id,
                error=messages.Error(code=err.code, message=message, temporary=temporary),
            )
        )

    def disconnect(self, code: int, reason: str = "") -> None:
        """Close the connection with a disconnect code (D-WS1); cleanup follows."""
        if self.state == CLOSED:
            return
        reason = reason or codes.disconnect_reason(code)
        self.node.metrics.server_disconnects[code] += 1
        self.state = CLOSED
        self._cancel_timers()
        if self.runner is not None:
            self.runner.cancel()
        self.sink.close(code, reason)
        # presence, subscriptions and registrations go with the decision, not when the
        # socket finally closes (a slow client's close frame may wait seconds, P-96)
        self.node.spawn(self._release())

    # -- command dispatch (P-20..P-22) ---------------------------------------------------------

    async def handle_commands(self, commands: list[messages.Command]) -> None:
        """Process ``commands`` one after the other, in order (P-20, P-26, P-27)."""
        for cmd in commands:
            if self.state == CLOSED:
                return
            try:
                await self._dispatch(cmd)
            except Exception as exc:
                if not self.command_failed(cmd, exc):
                    return

    async def run_command(self, cmd: messages.Command) -> bool:
        """Process one command; False once the connection is closing. Used where commands
        run concurrently (``client.concurrency``, transports/concurrency.py)."""
        try:
            await self._dispatch(cmd)
        except Exception as exc:
            return self.command_failed(cmd, exc)
        return True

    def command_failed(self, cmd: messages.Command, exc: Exception) -> bool:
        """Answer a command whose handler raised: an error reply, or a disconnect. False
        when the connection is closing and later commands must not run."""
        if isinstance(exc, DisconnectRequest):
            self.disconnect(exc.code, exc.reason)
            return False
        if isinstance(exc, CommandError):
            self.node.metrics.reply_errors[(_command_kind(cmd), exc.code)] += 1
            self.send_error(cmd.id, exc)
        elif isinstance(exc, EngineError):  # broker/presence failure: 100, or the engine's code
            kind = _command_kind(cmd)
            failures.failure(
                f"{kind} of client {self.client_id}",
                exc,
                key=("engine", kind, str(exc)),
                level=logging.WARNING,
            )
            self.send_error(cmd.id, CommandError(exc.code))
        else:  # a server bug: 100, the traceback at debug level
            kind = _command_kind(cmd)
            failures.failure(
                f"{kind} of client {self.client_id}", exc, key=("bug", kind, type(exc))
            )
            self.send_error(cmd.id, CommandError(100))
        return True

    async def _dispatch(self, cmd: messages.Command) -> None:
        self.node.metrics.messages_received[_command_kind(cmd)] += 1
        if not cmd.id and cmd.send is None:
            self._handle_pong()  # P-21: id-less command without send is a pong
            return
        if self.state == FAILED:
            raise DisconnectRequest(3501)
        if cmd.connect is not None:
            await self._connect(cmd.id, cmd.connect)
            return
        if self.state != CONNECTED:
            raise DisconnectRequest(3501)  # P-22: first command must be connect
        if cmd.subscribe is not None:
            await self.handle_subscribe(cmd.id, cmd.subscribe)
        elif cmd.unsubscribe is not None:
            await self.handle_unsubscribe(cmd.id, cmd.unsubscribe)
        elif cmd.publish is not None:
            await self.handle_publish(cmd.id, cmd.publish)
        elif cmd.presence is not None:
            await self.handle_presence(cmd.id, cmd.presence)
        elif cmd.presence_stats is not None:
            await self.handle_presence_stats(cmd.id, cmd.presence_stats)
        elif cmd.history is not None:
            await self.handle_history(cmd.id, cmd.history)
        elif cmd.rpc is not None:
            await self.handle_rpc(cmd.id, cmd.rpc)
        elif cmd.send is not None:
            self.handle_send(cmd.send)
        elif cmd.refresh is not None:
            await self._refresh(cmd.id, cmd.refresh)
        elif cmd.sub_refresh is not None:
            await self.handle_sub_refresh(cmd.id, cmd.sub_refresh)
        elif self.codec.legacy:  # protocol v1 (spec §2): ping answered {"id":N} (L-09),
            if cmd.ping is None:  # a command with no request is an unknown method (L-03)
                raise CommandError(104)
            self.send_reply(messages.Reply(id=cmd.id))
        else:
            raise DisconnectRequest(3501)  # P-20 no known request (P-37: ping included)

    # -- connect (P-30, AU-01..AU-08, AU-30..AU-33, SV-13, SV-14) ------------------------------

    async def _connect(self, cmd_id: int, req: messages.ConnectRequest) -> None:
        if self.state != NEW:
            raise DisconnectRequest(3501)  # second connect (P-22)
        node = self.node
        ccfg = node.config.client
        rules = node.rules
        user = ""
        info: bytes | None = None
        meta: bytes | None = None
        expire_at = 0
        data: bytes = b""
        token_subs: dict[str, Any] = {}
        credentials = False
        if req.token:
            try:
                claims = await node.verifier.verify_connect(req.token)
            except TokenExpiredError:
                self.state = FAILED
                raise CommandError(109) from None
            except TokenInvalidError as exc:
                logger.info("invalid connection token: %s", exc)
                raise DisconnectRequest(3500) from None
            if ccfg.disallow_anonymous_connection_tokens and not claims.user:
                raise DisconnectRequest(3507)
            user, info, meta, expire_at = claims.user, claims.info, claims.meta, claims.expire_at
            token_subs = dict(claims.subs) if claims.subs else dict.fromkeys(claims.channels)
            credentials = True
        elif node.connect_proxy is not None:
            self.emulated_headers = req.headers or {}
            try:
                proxied = await node.connect_proxy(self, req)
            except CommandError:
                self.state = FAILED  # P-22: a failed connect leaves the connection unusable
                raise
            user, info, meta = proxied.user, proxied.info, proxied.meta
            expire_at = proxied.expire_at
            data = proxied.data or b""
            token_subs = dict(proxied.subs)
            credentials = True
        elif ccfg.user_id_http_header and self.headers.get(ccfg.user_id_http_header.lower()):
            user = self.headers[ccfg.user_id_http_header.lower()]
            credentials = True
        elif ccfg.allow_anonymous_connect_without_token or ccfg.insecure:
            credentials = True
        if not credentials:
            raise DisconnectRequest(3501)
        now = time.time()
        if expire_at and expire_at <= now:
            self.state = FAILED
            raise CommandError(110)
        limit = ccfg.user_connection_limit
        if user and limit and node.user_connection_count(user) >= limit:
            raise DisconnectRequest(3504)

        channels: dict[str, Any] = {}
        for ch, opt in token_subs.items():
            try:
                rules.options(ch)
            except UnknownNamespaceError:
                self.state = FAILED
                raise CommandError(102) from None
            channels[ch] = opt
        personal = ccfg.subscribe_to_user_personal_channel
        if personal.enabled and user:
            ch = rules.personal_channel(user, personal.personal_channel_namespace)
            channels.setdefault(ch, None)
        for ch in req.subs or {}:
            if ch in channels:
                continue
            try:
                opts = rules.options(ch)
            except UnknownNamespaceError:
                raise DisconnectRequest(3501) from None
            if server_side_channel_allowed(rules, opts, ch, user, insecure=ccfg.insecure):
                channels[ch] = None
        if len(channels) > ccfg.channel_limit:
            raise DisconnectRequest(3505)

        self.user, self.conn_info, self.meta, self.expire_at = user, info, meta, expire_at
        self.name, self.version = req.name, req.version
        self.emulated_headers = req.headers or {}
        self.token_channels = frozenset(token_subs) if token_subs else _NO_CHANNELS
        self.state = CONNECTED
        if self._stale_timer is not None:
            self._stale_timer.cancel()
            self._stale_timer = None
        node.register(self)
        self.registered = True

        results: dict[str, messages.SubscribeResult] = {}
        attached: list[Subscriber] = []
        try:
            for ch, opt in channels.items():
                requested = (req.subs or {}).get(ch)
                sub, sub_result = await self.attach_server_side(ch, opt, requested)
                results[ch] = sub_result
                attached.append(sub)
        except CommandError:
            raise DisconnectRequest(3004) from None

        result = messages.ConnectResult(
            client=self.client_id,
            version=node.version,
            data=data,
            subs=results or None,
            ping=self._ping_seconds(),
            pong=self._pong_enabled(),
        )
        if expire_at and node.refresh_proxy is None:
            result.expires = True
            result.ttl = min(max(int(expire_at - now), 0), MAX_TTL)
        if self.emulation:
            result.session = self.client_id
            result.node = node.uid
        if ccfg.connect_include_server_time:
            result.time = int(now * 1000)
        self.send_reply(messages.Reply(id=cmd_id, connect=result))
        for sub in attached:
            await self.activate(sub)
        await enforce_single_connection(self)  # PR-06: needs our presence in place
        if self.state != CONNECTED:
            return
        self._schedule_ping(first=True)
        self._schedule_expiry()
        self.start_upkeep()

    # -- refresh (P-40, AU-34) -----------------------------------------------------------------

    async def _refresh(self, cmd_id: int, req: messages.RefreshRequest) -> None:
        node = self.node
        if not req.token or node.refresh_proxy is not None:
            raise DisconnectRequest(3501)
        try:
            claims = await node.verifier.verify_connect(req.token)
        except TokenExpiredError:
            raise DisconnectRequest(3005) from None
        except TokenInvalidError:
            raise DisconnectRequest(3500) from None
        if claims.user != self.user:
            raise DisconnectRequest(3500)
        now = time.time()
        if claims.expire_at and claims.expire_at <= now:
            raise CommandError(110)
        new_channels = frozenset(claims.subs) if claims.subs else frozenset(claims.channels)
        if new_channels != self.token_channels:
            raise DisconnectRequest(3010)
        if claims.info is not None:
            self.conn_info = claims.info
        self.expire_at = claims.expire_at
        self._schedule_expiry()
        result = messages.RefreshResult()  # expires and ttl only, as Centrifugo
        if self.expire_at:
            result.expires = True
            result.ttl = min(max(int(self.expire_at - now), 0), MAX_TTL)
        self.send_reply(messages.Reply(id=cmd_id, refresh=result))

    def closed_or_not_connected(self) -> bool:
        return self.state != CONNECTED

    def api_refresh(
        self, *, expired: bool = False, expire_at: int = 0, info: bytes | None = None
    ) -> None:
        """Server API ``refresh`` (API-15): close with 3005, or new expiry/info and a
        ``refresh`` push (P-49)."""
        if self.state != CONNECTED:
            return
        now = time.time()
        if expired or (expire_at and expire_at <= now):
            self.disconnect(3005)
            return
        if info is not None:
            self.conn_info = info
        self.expire_at = expire_at
        self._schedule_expiry()
        ttl = min(max(int(expire_at - now), 0), MAX_TTL) if expire_at else 0
        self.enqueue(self.codec.encode_refresh_push(bool(expire_at), ttl))

    # -- ping / pong (P-50..P-53) --------------------------------------------------------------

    def _ping_seconds(self) -> int:
        interval = self.node.config.client.ping_interval
        return int(interval) if interval > 0 else 0

    def _pong_enabled(self) -> bool:
        ccfg = self.node.config.client
        return ccfg.ping_interval > 0 and ccfg.pong_timeout > 0

    def _schedule_ping(self, *, first: bool = False) -> None:
        interval = self.node.config.client.ping_interval
        if interval <= 0:
            return
        delay = random.uniform(interval / 2, interval) if first else interval
        # v1 clients ping the server themselves; the server adds transport-level pings
        # where the transport has them (L-09, L-53)
        callback = self._send_native_ping if self.codec.legacy else self._send_ping
        self._ping_timer = self.node.timers.schedule(delay, callback)

    def _send_native_ping(self) -> None:
        if self.state != CONNECTED:
            return
        native_ping = getattr(self.sink, "native_ping", None)
        if native_ping is not None:
            native_ping()
        self._schedule_ping()

    def _send_ping(self) -> None:
        if self.state != CONNECTED:
            return
        self.enqueue(self.codec.ping_message())
        if self._pong_enabled() and not self.awaiting_pong:
            self.awaiting_pong = True
            self._pong_timer = self.node.timers.schedule(
                self.node.config.client.pong_timeout, self._check_pong
            )
        self._schedule_ping()

    def _check_pong(self) -> None:
        if self.awaiting_pong and self.state == CONNECTED:
            self.disconnect(3012)

    def _handle_pong(self) -> None:
        if self.state != CONNECTED or not self.awaiting_pong:
            raise DisconnectRequest(3501)  # P-52: unsolicited pong
        self.awaiting_pong = False
        if self._pong_timer is not None:
            self._pong_timer.cancel()
            self._pong_timer = None

    # -- timers (P-93, P-94) -------------------------------------------------------------------

    def _check_stale(self) -> None:
        self._stale_timer = None
        if self.state in (NEW, FAILED):
            self.disconnect(3502)

    def _schedule_expiry(self) -> None:
        if self._expire_timer is not None:
            self._expire_timer.cancel()
            self._expire_timer = None
        if not self.expire_at:
            return
        delay = self.expire_at - time.time()
        if self.node.refresh_proxy is None:  # client-side refresh gets a grace period (P-94)
            delay += self.node.config.client.expired_close_delay
        self._expire_timer = self.node.timers.schedule(delay, self._check_expired)

    def _check_expired(self) -> None:
        self._expire_timer = None
        if self.state != CONNECTED or not self.expire_at:
            return
        if self.node.refresh_proxy is not None:
            self.node.spawn(self._proxy_refresh())
            return
        if self.expire_at + self.node.config.client.expired_close_delay <= time.time():
            self.disconnect(3005)
        else:
            self._schedule_expiry()

    async def _proxy_refresh(self) -> None:
        """Server-side refresh through the refresh proxy (P-94, PX-11): an error retries in
        60 s, ``expired`` closes with 3005."""
        hook = self.node.refresh_proxy
        assert hook is not None
        try:
            res = await hook(self)
        except (CommandError, DisconnectRequest):
            if self.state == CONNECTED:
                self._expire_timer = self.node.timers.schedule(
                    REFRESH_PROXY_RETRY, self._check_expired
                )
            return
        if self.state != CONNECTED:
            return
        if res.expired or (res.expire_at and res.expire_at <= time.time()):
            self.disconnect(3005)
            return
        if res.info is not None:
            self.conn_info = res.info
        if res.meta is not None:
            self.meta = res.meta
        self.expire_at = res.expire_at
        if self.expire_at:
            delay = self.expire_at - time.time()
            self._expire_timer = self.node.timers.schedule(delay, self._check_expired)

    def _cancel_timers(self) -> None:
        timers = (
            self._ping_timer,
            self._pong_timer,
            self._expire_timer,
            self._stale_timer,
            self._upkeep_timer,
        )
        for t in timers:
            if t is not None:
                t.cancel()
        self._ping_timer = self._pong_timer = self._expire_timer = self._stale_timer = None
        self._upkeep_timer = None
        for sub in self.subs.values():
            self.cancel_sub_timer(sub)

    # -- teardown ------------------------------------------------------------------------------

    def client_info(self, chan_info: bytes | None = None) -> ClientInfo:
        return ClientInfo(self.user, self.client_id, self.conn_info, chan_info)

    async def on_transport_closed(self) -> None:
        """The connection is gone: drop subscriptions, presence and registrations."""
        self.state = CLOSED
        self._cancel_timers()
        if self.runner is not None:
            self.runner.cancel()
        await self._release()

    async def _release(self) -> None:
        """Drop what the session holds in the node; safe to run more than once, even
        concurrently (each subscription is popped before it is removed). Commands still in
        flight are cancelled first and waited for, so none adds a subscription afterwards."""
        if self.runner is not None:
            await self.runner.settle()
        for channel in list(self.subs):
            try:
                await self.remove_subscription(channel)
            except Exception as exc:
                failures.failure(
                    f"cleanup of {channel!r} for client {self.client_id}",
                    exc,
                    key=("cleanup", type(exc), str(exc)),
                )
        if self.registered:
            self.registered = False
            self.node.unregister(self)
