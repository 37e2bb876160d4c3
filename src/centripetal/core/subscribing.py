"""Subscribing, unsubscribing and subscription refresh for a client session.

Spec: P-31, P-32, P-41, P-90, HR-03..HR-10, PR-01, PR-04, AU-20, AU-21, AU-35, SV-13.

Theory of operation (HR-07, the subscribe/live race)
----------------------------------------------------
``attach`` registers the subscriber in the hub *before* reading the stream, with a
``buffer``: publications that arrive meanwhile are kept there instead of being written. After
the history read (``core.stream_sync``: position, stream or cache recovery), the publications
buffered so far are merged into the reply (recovery) or used to set the position; the reply
is then queued, and ``activate`` drains what arrived later through the same positioning rules
as live delivery before the buffer is dropped. So the reply is always written before any
publication of that channel, and nothing is lost or duplicated between the history read and
live delivery.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from centripetal.core import tags_filter
from centripetal.core.channels import UnknownNamespaceError
from centripetal.core.errors import CommandError, DisconnectRequest
from centripetal.core.permissions import SubscribeAccess, subscribe_access, subscribe_opt_ins
from centripetal.core.stream_sync import (
    sync_position,
    uses_cache_recovery,
    warn_cache_recover_ignored,
)
from centripetal.core.tokens import (
    TokenExpiredError,
    TokenInvalidError,
    TokenMismatchError,
    check_subscribe_claims,
)
from centripetal.engines.base import EngineError, HistoryFilter, StreamPosition
from centripetal.hub import Subscriber
from centripetal.protocol import codes, messages

if TYPE_CHECKING:
    from centripetal.config.schema import ChannelOptions, Override
    from centripetal.node import Node
    from centripetal.protocol.codec import Codec
    from centripetal.timers import Timer

REJECT_UNRECOVERED_FLAG = 2  # P-31 subscribe flag bit 2


class SubscribingMixin:
    """Subscription handling of ``ClientSession``."""

    node: Node
    client_id: str
    user: str
    subs: dict[str, Subscriber]
    binary: bool
    codec: Codec
    _upkeep_timer: Timer | None
    _last_position_check: float

    # provided by ClientSession
    def send_reply(self, reply: messages.Reply) -> None: ...
    def enqueue(self, message: bytes) -> None: ...
    def disconnect(self, code: int, reason: str = "") -> None: ...
    def client_info(self, chan_info: bytes | None = None) -> Any: ...

    # -- client-side subscribe (P-31, P-90) ------------------------------------------------------

    async def handle_subscribe(self, cmd_id: int, req: messages.SubscribeRequest) -> None:
        node = self.node
        cfg = node.config
        channel = req.channel
        if not channel:
            raise DisconnectRequest(3501)
        if len(channel) > cfg.channel.max_length:
            raise CommandError(107)
        if channel in self.subs:
            raise CommandError(105)
        if len(self.subs) >= cfg.client.channel_limit:
            raise CommandError(106)
        if req.delta and req.delta != "fossil":
            raise DisconnectRequest(3501)  # HR-10
        rules = node.rules
        try:
            opts = rules.options(channel)
        except UnknownNamespaceError:
            raise CommandError(102) from None
        if not rules.valid_name(channel, opts):
            raise CommandError(107)
        if req.tf is not None:  # HR-14: only where allowed, and well-formed
            if not opts.allow_tags_filter:
                raise CommandError(107)
            try:
                tags_filter.validate(req.tf)
            except tags_filter.FilterError:
                raise CommandError(107) from None
        insecure = cfg.client.insecure
        access = subscribe_access(
            rules,
            opts,
            channel,
            self.user,
            has_token=bool(req.token),
            insecure=insecure,
            sub_type=req.type,
        )
        chan_info: bytes | None = None
        data: bytes = b""
        expire_at = 0
        override: Override | None = None
        via_proxy = False
        if access is SubscribeAccess.TOKEN:
            try:
                claims = await node.sub_verifier.verify_subscribe(req.token)
            except TokenExpiredError:
                raise CommandError(109) from None
            except TokenInvalidError:
                raise CommandError(103) from None
            try:
                check_subscribe_claims(claims, channel, self.user, self.client_id)
            except TokenMismatchError:
                raise DisconnectRequest(3500) from None
            chan_info, data, expire_at, override = (
                claims.info,
                claims.data or b"",
                claims.expire_at,
                claims.override,
            )
        elif access is SubscribeAccess.PROXY:
            if node.subscribe_proxy is None:
                raise CommandError(108)
            res = await node.subscribe_proxy(self, channel, opts, req)  # type: ignore[arg-type]
            chan_info, data, expire_at, override = (
                res.info,
                res.data or b"",
                res.expire_at,
                (res.override),
            )
            via_proxy = True
        elif access is SubscribeAccess.STREAM_PROXY:
            raise CommandError(108)
        elif access is SubscribeAccess.BAD_NAME:
            raise CommandError(107)
        elif access is not SubscribeAccess.ALLOW:
            raise CommandError(103)

        now = time.time()
        if expire_at and expire_at <= now:
            raise CommandError(110)
        sub = Subscriber(self, channel, opts)  # type: ignore[arg-type]
        sub.chan_info = chan_info
        sub.expire_at = expire_at
        positioned, recoverable, push_join_leave = subscribe_opt_ins(
            opts,
            self.user,
            positioned=req.positioned,
            recoverable=req.recoverable,
            join_leave=req.join_leave,
            subscribed_via_proxy=via_proxy,
        )
        self._apply_options(sub, opts, override, positioned, recoverable, push_join_leave)
        sub.tags_filter = req.tf
        sub.delta = bool(
            req.delta == "fossil"
            and "fossil" in opts.allowed_delta_types
            and (sub.positioned or sub.recoverable)
            and req.tf is None  # filtering and delta exclude each other
        )
        result = await self.attach(
            sub,
            recover=req.recover,
            since=StreamPosition(req.offset, req.epoch),
            reject_unrecovered=bool(req.flag & REJECT_UNRECOVERED_FLAG),
        )
        if data:
            result.data = data
        if expire_at:
            result.expires = True
            result.ttl = max(int(expire_at - now), 0)
        self.send_reply(messages.Reply(id=cmd_id, subscribe=result))
        await self.activate(sub)

    def _apply_options(
        self,
        sub: Subscriber,
        opts: ChannelOptions,
        override: Override | None,
        positioned: bool,
        recoverable: bool,
        push_join_leave: bool,
    ) -> None:
        """Namespace options, client opt-ins and token/proxy overrides (AU-02, PX-12)."""
        presence = opts.presence
        join_leave = opts.join_leave
        force_recovery = opts.force_recovery
        force_positioning = opts.force_positioning
        if override is not None:
            if override.presence is not None:
                presence = override.presence
            if override.join_leave is not None:
                join_leave = override.join_leave
            if override.force_push_join_leave is not None:
                push_join_leave = push_join_leave or override.force_push_join_leave
            if override.force_recovery is not None:
                force_recovery = override.force_recovery
            if override.force_positioning is not None:
                force_positioning = override.force_positioning
        history = opts.history_enabled
        sub.presence = presence
        sub.join_leave = join_leave
        sub.push_join_leave = push_join_leave and join_leave
        sub.recoverable = history and (recoverable or force_recovery)
        sub.positioned = history and (positioned or force_positioning or sub.recoverable)

    # -- server-side subscriptions (SV-13) -------------------------------------------------------

    async def attach_server_side(
        self, channel: str, claim: Any, requested: messages.SubscribeRequest | None
    ) -> tuple[Subscriber, messages.SubscribeResult]:
        opts = self.node.rules.options(channel)
        sub = Subscriber(self, channel, opts)  # type: ignore[arg-type]
        sub.server_side = True
        override = None
        if claim is not None:
            sub.chan_info = getattr(claim, "info", None)
            override = getattr(claim, "override", None)
            sub.expire_at = getattr(claim, "expire_at", 0) or 0
        self._apply_options(sub, opts, override, False, False, opts.force_push_join_leave)
        recover = requested is not None and requested.recover
        since = StreamPosition(requested.offset, requested.epoch) if requested else None
        cache_recover = bool(getattr(claim, "cache_recover", False))
        if cache_recover and not uses_cache_recovery(sub):
            warn_cache_recover_ignored(channel)
            cache_recover = False
        result = await self.attach(
            sub,
            recover=recover,
            since=since,
            reject_unrecovered=False,
            cache_recover=cache_recover,
        )
        data = getattr(claim, "data", None) if claim is not None else None
        if data:
            result.data = data
        return sub, result

    async def server_subscribe(
        self,
        channel: str,
        options: Any = None,
        *,
        recover_since: StreamPosition | None = None,
    ) -> None:
        """Subscribe this connection from the server side (API-12, SV-13): a ``subscribe``
        push (P-46) then live publications; recovered publications follow the push."""
        if channel in self.subs or self.closed_or_not_connected():
            return
        requested = None
        if recover_since is not None:
            requested = messages.SubscribeRequest(
                channel=channel,
                recover=True,
                offset=recover_since.offset,
                epoch=recover_since.epoch,
            )
        sub, result = await self.attach_server_side(channel, options, requested)
        self.enqueue(
            self.codec.encode_subscribe_push(
                channel,
                recoverable=result.recoverable,
                epoch=result.epoch,
                offset=result.offset,
                positioned=result.positioned,
                data=result.data,
            )
        )
        for pub in result.publications or ():
            self.enqueue(
                self.codec.encode_pub_push(
                    channel,
                    pub.data,
                    None,
                    pub.offset,
                    pub.tags,
                    data_as_string=sub.delta and not self.binary,
                )
            )
        await self.activate(sub)

    def closed_or_not_connected(self) -> bool:
        return False

    # -- the shared subscribe core (HR-03..HR-09) ------------------------------------------------

    async def attach(
        self,
        sub: Subscriber,
        *,
        recover: bool,
        since: StreamPosition | None,
        reject_unrecovered: bool,
        cache_recover: bool = False,
    ) -> messages.SubscribeResult:
        node = self.node
        channel = sub.channel
        sub.buffer = []
        self.subs[channel] = sub
        try:
            await node.add_subscriber(sub)
            result = messages.SubscribeResult()
            if sub.positioned or sub.recoverable:
                await sync_position(
                    node,
                    sub,
                    result,
                    recover=recover,
                    since=since,
                    reject_unrecovered=reject_unrecovered,
                    cache_recover=cache_recover,
                    binary=self.binary,
                )
        except BaseException:
            self.subs.pop(channel, None)
            await node.remove_subscriber(channel, self.client_id)
            raise
        result.recoverable = sub.recoverable
        result.positioned = sub.positioned
        result.delta = sub.delta
        return result

    async def activate(self, sub: Subscriber) -> None:
        """After the reply is queued: drain buffered publications, then presence and join."""
        buffered = sub.buffer or []
        sub.buffer = None
        hub = self.node.hub
        for pub, pos in buffered:
            if self.subs.get(sub.channel) is not sub:
                return
            hub.deliver_to(sub, pub, pos)
        if self.subs.get(sub.channel) is not sub:
            return
        self._schedule_sub_expiry(sub)
        if sub.presence or sub.join_leave:
            info = self.client_info(sub.chan_info)
            if sub.presence:
                await self.node.presence_manager.add_presence(sub.channel, self.client_id, info)
            if sub.join_leave:
                await self.node.broker.publish_join(sub.channel, info)

    # -- periodic upkeep: presence refresh (PR-01) and position checks (HR-03) -----------------

    def start_upkeep(self) -> None:
        """One timer per connection, on the shared timer queue."""
        ccfg = self.node.config.client
        interval = min(ccfg.presence_update_interval, ccfg.channel_position_check_delay)
        if interval > 0:
            self._upkeep_timer = self.node.timers.schedule(interval, self._upkeep_tick)

    def _upkeep_tick(self) -> None:
        self._upkeep_timer = None
        if self.closed_or_not_connected():
            return
        if any(sub.presence or sub.positioned for sub in self.subs.values()):
            self.node.spawn(self._upkeep())
        self.start_upkeep()

    async def _upkeep(self) -> None:
        node = self.node
        now = time.monotonic()
        check_positions = now - self._last_position_check >= (
            node.config.client.channel_position_check_delay
        )
        if check_positions:
            self._last_position_check = now
        for sub in list(self.subs.values()):
            if sub.buffer is not None or self.subs.get(sub.channel) is not sub:
                continue
            if sub.presence:
                info = self.client_info(sub.chan_info)
                await node.presence_manager.add_presence(sub.channel, self.client_id, info)
            if check_positions and sub.positioned:
                await self.check_position(sub)

    async def check_position(self, sub: Subscriber) -> None:
        """Compare the subscriber's position with the stream top (HR-03): a publication it
        never received means insufficient state (2500 / 3010)."""
        seen = sub.last_offset
        try:
            top = (await self.node.broker.history(sub.channel, HistoryFilter())).position
        except EngineError:
            return  # engine unavailable: try again at the next check
        if self.subs.get(sub.channel) is not sub or sub.buffer is not None:
            return
        if top.epoch != sub.epoch or (top.offset > seen and sub.last_offset == seen):
            self.on_insufficient_state(sub)

    # -- unsubscribe (P-32) ----------------------------------------------------------------------

    async def handle_unsubscribe(self, cmd_id: int, req: messages.UnsubscribeRequest) -> None:
        if not req.channel:
            raise DisconnectRequest(3501)
        await self.remove_subscription(req.channel)
        self.send_reply(messages.Reply(id=cmd_id, unsubscribe=messages.UnsubscribeResult()))

    async def remove_subscription(self, channel: str) -> None:
        sub = self.subs.pop(channel, None)
        if sub is None:
            return
        self.cancel_sub_timer(sub)
        node = self.node
        await node.remove_subscriber(channel, self.client_id)
        if sub.buffer is None and (sub.presence or sub.join_leave):
            info = self.client_info(sub.chan_info)
            if sub.presence:
                await node.presence_manager.remove_presence(channel, self.client_id, self.user)
            if sub.join_leave:
                await node.broker.publish_leave(channel, info)

    def server_unsubscribe(self, channel: str, code: int, reason: str = "") -> None:
        """Unsubscribe by the server: push ``unsubscribe`` (P-44) and clean up."""
        sub = self.subs.get(channel)
        if sub is None:
            return
        if sub.server_side and code in (2500, 2501):
            # a server-side subscription cannot resubscribe on its own: reconnect (HR-03, P-95)
            self.disconnect(3010 if code == 2500 else 3006)
            return
        reason = reason or codes.unsubscribe_reason(code)
        self.enqueue(self.codec.encode_unsubscribe_push(channel, code, reason))
        self.node.spawn(self.remove_subscription(channel))

    def on_insufficient_state(self, sub: Subscriber) -> None:
        """Called by the hub on a position gap (HR-03): 2500 / 3010."""
        if self.subs.get(sub.channel) is sub:
            self.server_unsubscribe(sub.channel, 2500)

    # -- subscription expiry and refresh (P-41, P-95, AU-35) -------------------------------------

    def _schedule_sub_expiry(self, sub: Subscriber) -> None:
        self.cancel_sub_timer(sub)
        if not sub.expire_at:
            return
        delay = sub.expire_at - time.time() + self.node.config.client.expired_sub_close_delay
        sub.timer = self.node.timers.schedule(delay, lambda: self._check_sub_expired(sub))

    def cancel_sub_timer(self, sub: Subscriber) -> None:
        if sub.timer is not None:
            sub.timer.cancel()
            sub.timer = None

    def _uses_sub_refresh_proxy(self, sub: Subscriber) -> bool:
        return sub.options.sub_refresh_proxy_enabled and self.node.sub_refresh_proxy is not None

    def _check_sub_expired(self, sub: Subscriber) -> None:
        sub.timer = None
        if self.subs.get(sub.channel) is not sub or not sub.expire_at:
            return
        if self._uses_sub_refresh_proxy(sub):
            self.node.spawn(self._proxy_sub_refresh(sub))
            return
        if sub.expire_at + self.node.config.client.expired_sub_close_delay <= time.time():
            if sub.server_side:
                self.disconnect(3006)
            else:
                self.server_unsubscribe(sub.channel, 2501)
        else:
            self._schedule_sub_expiry(sub)

    async def _proxy_sub_refresh(self, sub: Subscriber) -> None:
        """Server-side subscription refresh through the sub_refresh proxy (PX-14, P-95)."""
        hook = self.node.sub_refresh_proxy
        assert hook is not None
        try:
            res = await hook(self, sub)  # type: ignore[arg-type]
        except (CommandError, DisconnectRequest):
            if self.subs.get(sub.channel) is sub:
                sub.timer = self.node.timers.schedule(60.0, lambda: self._check_sub_expired(sub))
            return
        if self.subs.get(sub.channel) is not sub:
            return
        if res.expired or (res.expire_at and res.expire_at <= time.time()):
            if sub.server_side:
                self.disconnect(3006)
            else:
                self.server_unsubscribe(sub.channel, 2501)
            return
        if res.info is not None:
            sub.chan_info = res.info
        sub.expire_at = res.expire_at
        if sub.expire_at:
            delay = sub.expire_at - time.time()
            sub.timer = self.node.timers.schedule(delay, lambda: self._check_sub_expired(sub))

    async def handle_sub_refresh(self, cmd_id: int, req: messages.SubRefreshRequest) -> None:
        if not req.channel:
            raise DisconnectRequest(3501)
        sub = self.subs.get(req.channel)
        if sub is None:
            raise CommandError(103)
        if self._uses_sub_refresh_proxy(sub):
            raise DisconnectRequest(3501)  # P-41: server-side refresh in use
        if not req.token:
            raise CommandError(107)
        try:
            claims = await self.node.sub_verifier.verify_subscribe(req.token)
        except TokenExpiredError:
            raise CommandError(109) from None
        except TokenInvalidError:
            raise DisconnectRequest(3500) from None
        try:
            check_subscribe_claims(claims, req.channel, self.user, self.client_id)
        except TokenMismatchError:
            raise DisconnectRequest(3500) from None
        now = time.time()
        if claims.expire_at and claims.expire_at <= now:
            raise CommandError(110)
        if claims.info is not None:
            sub.chan_info = claims.info
        sub.expire_at = claims.expire_at
        self._schedule_sub_expiry(sub)
        result = messages.SubRefreshResult()
        if sub.expire_at:
            result.expires = True
            result.ttl = max(int(sub.expire_at - now), 0)
        self.send_reply(messages.Reply(id=cmd_id, sub_refresh=result))
