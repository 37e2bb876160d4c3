"""Channel operations of a client session: publish, presence, presence_stats, history, rpc, send.

Spec: P-33..P-39, P-91, P-92, HR-11, PR-02, CH-43.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from centripetal.core.channels import UnknownNamespaceError
from centripetal.core.errors import CommandError, DisconnectRequest
from centripetal.core.permissions import (
    PublishAccess,
    check_publication_data,
    history_allowed,
    presence_allowed,
    publish_access,
)
from centripetal.engines.base import HistoryFilter, StreamPosition, UnrecoverablePositionError
from centripetal.protocol import messages

if TYPE_CHECKING:
    from centripetal.config.schema import ChannelOptions
    from centripetal.hub import Subscriber
    from centripetal.node import Node
    from centripetal.protocol.codec import Codec


def _wire_info(info: Any) -> messages.ClientInfo:
    return messages.ClientInfo(
        user=info.user,
        client=info.client,
        conn_info=info.conn_info or b"",
        chan_info=info.chan_info or b"",
    )


class ChannelOpsMixin:
    """Publish / presence / history / rpc / send handling of ``ClientSession``."""

    node: Node
    client_id: str
    user: str
    subs: dict[str, Subscriber]
    codec: Codec

    def send_reply(self, reply: messages.Reply) -> None: ...
    def client_info(self, chan_info: bytes | None = None) -> Any: ...

    def _channel_options(self, channel: str) -> ChannelOptions:
        if not channel:
            raise DisconnectRequest(3501)
        rules = self.node.rules
        try:
            opts = rules.options(channel)
        except UnknownNamespaceError:
            raise CommandError(102) from None
        # channel.max_length is checked on subscribe only, as in Centrifugo (CH-02)
        if not rules.valid_name(channel, opts):
            raise CommandError(107)
        return opts

    # -- publish (P-33, P-91) --------------------------------------------------------------------

    async def handle_publish(self, cmd_id: int, req: messages.PublishRequest) -> None:
        node = self.node
        channel = req.channel
        opts = self._channel_options(channel)
        fmt = opts.publication_data_format or node.config.channel.publication_data_format
        if not check_publication_data(fmt, req.data):
            raise CommandError(107)
        sub = self.subs.get(channel)
        access = publish_access(
            opts, self.user, subscribed=sub is not None, insecure=node.config.client.insecure
        )
        data = req.data
        extra: dict[str, Any] = {}
        if access is PublishAccess.PROXY:
            if node.publish_proxy is None:
                raise CommandError(108)
            result = await node.publish_proxy(self, channel, opts, req)  # type: ignore[arg-type]
            if result.data is not None:
                data = result.data
            extra = {
                "skip_history": result.skip_history,
                "tags": result.tags,
                "idempotency_key": result.idempotency_key,
                "delta": result.delta,
            }
        elif access is not PublishAccess.ALLOW:
            raise CommandError(108 if access is PublishAccess.STREAM_PROXY else 103)
        info = self.client_info(sub.chan_info if sub is not None else None)
        await node.publish(channel, data, opts, info=info, **extra)
        self.send_reply(messages.Reply(id=cmd_id, publish=messages.PublishResult()))

    # -- presence (P-34, P-35, P-92, PR-02) -----------------------------------------------------

    def _check_presence(self, channel: str) -> None:
        opts = self._channel_options(channel)
        if not opts.presence:
            raise CommandError(108)
        if not presence_allowed(
            opts,
            self.user,
            subscribed=channel in self.subs,
            insecure=self.node.config.client.insecure,
        ):
            raise CommandError(103)

    async def handle_presence(self, cmd_id: int, req: messages.PresenceRequest) -> None:
        self._check_presence(req.channel)
        entries = await self.node.presence_manager.presence(req.channel)
        result = messages.PresenceResult(
            presence={cid: _wire_info(info) for cid, info in entries.items()}
        )
        self.send_reply(messages.Reply(id=cmd_id, presence=result))

    async def handle_presence_stats(self, cmd_id: int, req: messages.PresenceStatsRequest) -> None:
        self._check_presence(req.channel)
        stats = await self.node.presence_manager.presence_stats(req.channel)
        result = messages.PresenceStatsResult(
            num_clients=stats.num_clients, num_users=stats.num_users
        )
        self.send_reply(messages.Reply(id=cmd_id, presence_stats=result))

    # -- history (P-36, P-92, HR-11) -------------------------------------------------------------

    async def handle_history(self, cmd_id: int, req: messages.HistoryRequest) -> None:
        node = self.node
        channel = req.channel
        opts = self._channel_options(channel)
        if not opts.history_enabled:
            raise CommandError(108)
        if not history_allowed(
            opts, self.user, subscribed=channel in self.subs, insecure=node.config.client.insecure
        ):
            raise CommandError(103)
        limit = req.limit
        cap = node.config.client.history_max_publication_limit
        if limit < 0 or (cap > 0 and limit > cap):
            limit = cap if cap > 0 else -1
        since = None
        if req.since is not None:
            since = StreamPosition(req.since.offset, req.since.epoch)
            if req.reverse and since.offset == 0:
                raise CommandError(107)
        meta_ttl = opts.history_meta_ttl or node.config.channel.history_meta_ttl
        try:
            hist = await node.broker.history(
                channel,
                HistoryFilter(limit=limit, since=since, reverse=req.reverse, meta_ttl=meta_ttl),
            )
        except UnrecoverablePositionError:
            raise CommandError(112) from None
        from centripetal.core.stream_sync import to_wire_publication

        result = messages.HistoryResult(
            publications=[to_wire_publication(p, as_json_string=False) for p in hist.publications],
            epoch=hist.position.epoch,
            offset=hist.position.offset,
        )
        self.send_reply(messages.Reply(id=cmd_id, history=result))

    # -- rpc (P-39) and send (P-38) ------------------------------------------------------------

    async def handle_rpc(self, cmd_id: int, req: messages.RPCRequest) -> None:
        node = self.node
        rpc_cfg = node.config.rpc
        if rpc_cfg.ping.enabled and req.method == rpc_cfg.ping.method:
            self.send_reply(messages.Reply(id=cmd_id, rpc=messages.RPCResult()))
            return
        if node.rpc_proxy is None:
            raise CommandError(104 if rpc_cfg.ping.enabled else 108)
        data = await node.rpc_proxy(self, req)  # type: ignore[arg-type]
        self.send_reply(messages.Reply(id=cmd_id, rpc=messages.RPCResult(data=data)))

    def handle_send(self, req: messages.SendRequest) -> None:
        if self.node.message_handler is None:
            if self.codec.legacy:  # v3 ignored a send without handler (MG-21, L-13)
                return
            raise DisconnectRequest(3508)
        self.node.message_handler(self, req.data)  # type: ignore[arg-type]
