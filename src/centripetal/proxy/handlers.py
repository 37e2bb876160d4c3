"""The six proxy hooks of a node (spec §4, PX-10..PX-15; contract in ``core.hooks``).

Each hook builds the request (``proxy.request``), calls the proxy object chosen by
``proxy.config`` through its ``HTTPCaller`` and maps the reply (``proxy.reply``). Backend
``error``/``disconnect`` pass through verbatim for connect, subscribe, publish and rpc;
refresh and sub_refresh honour only ``result`` (PX-07): no result means expired. Transport
faults raise error 100 (R-11), which the session answers, or - for refresh/sub_refresh -
retries after 60 s (P-94, P-95).

A reply that cannot be used (``proxy.reply``: not JSON, wrong types, numbers out of range,
nesting too deep, bad base64) takes the same failure path - error 100 - with one log line
naming the event, the endpoint, the client and the reason (repeats summarised).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from centripetal.core import hooks
from centripetal.core.channels import UnknownNamespaceError
from centripetal.core.errors import CommandError, DisconnectRequest
from centripetal.observability.logs import describe_exception, failure_log
from centripetal.proxy import reply, request
from centripetal.proxy.config import channel_proxy, rpc_namespace, rpc_proxy
from centripetal.proxy.http import HTTPCaller

if TYPE_CHECKING:
    from centripetal.config.schema import ChannelOptions, ProxyEndpoint
    from centripetal.core.session import ClientSession
    from centripetal.hub import Subscriber
    from centripetal.node import Node
    from centripetal.protocol import messages
    from centripetal.tls import ClientTLS

__all__ = ["ProxyHooks"]

logger = logging.getLogger("centripetal.proxy")
failures = failure_log("centripetal.proxy")


@contextlib.contextmanager
def reading_reply(kind: str, ep: ProxyEndpoint, session: ClientSession) -> Iterator[None]:
    """Map a backend answer inside the block: the backend's own ``error``/``disconnect`` pass
    through; an unusable answer is logged once and becomes error 100 (R-11), never any other
    exception."""
    try:
        yield
    except reply.InvalidReply as exc:
        _log_invalid(kind, ep, session, exc.reason)
        raise
    except (CommandError, DisconnectRequest):
        raise
    except Exception as exc:  # a reply the mapping did not foresee: still fail closed
        _log_invalid(kind, ep, session, describe_exception(exc))
        raise reply.internal_error() from None


def _log_invalid(kind: str, ep: ProxyEndpoint, session: ClientSession, reason: str) -> None:
    failures.failure(
        f"{kind} proxy reply from {ep.endpoint} for client {session.client_id}",
        f"unusable reply: {reason}",
        key=(kind, ep.endpoint, "invalid reply"),
    )


class ProxyHooks:
    """The node's proxy hooks; one ``HTTPCaller`` (pool slot bound) per proxy object."""

    def __init__(self, node: Node, tls: Mapping[int, ClientTLS] | None = None) -> None:
        self.node = node
        self._callers: dict[int, HTTPCaller] = {}
        self._tls = dict(tls or {})  # id(proxy object) -> its http.tls (PX-27)

    def caller(self, kind: str, ep: ProxyEndpoint) -> HTTPCaller:
        """The caller of one proxy object (shared by every event using that object)."""
        caller = self._callers.get(id(ep))
        if caller is None:
            caller = self._callers[id(ep)] = HTTPCaller(
                kind,
                ep,
                self.node.http_session,
                metrics=self.node.metrics,
                tls=self._tls.get(id(ep)),
            )
        return caller

    def _emulated_headers(self, session: ClientSession) -> Mapping[str, str]:
        """``ConnectRequest.headers`` kept by the session (TR-15)."""
        return session.emulated_headers

    async def _call(
        self, kind: str, ep: ProxyEndpoint, session: ClientSession, body: bytes
    ) -> bytes:
        headers = request.request_headers(ep, session.headers, self._emulated_headers(session))
        return await self.caller(kind, ep).post(body, headers, session.client_id)

    # -- connect (PX-10, P-30, AU-33) ---------------------------------------------------------

    async def connect(
        self, session: ClientSession, req: messages.ConnectRequest
    ) -> hooks.ConnectResult:
        """Called only for clients without a token. No result: anonymous if allowed, else
        3501. Unknown namespace in returned channels/subs: 102."""
        ep = self.node.config.client.proxy.connect
        body = request.connect_body(session, ep, req)
        raw = await self._call("connect", ep, session, body)
        with reading_reply("connect", ep, session):
            rep = reply.decode_reply(raw, reply.ConnectReply)
            reply.raise_error_or_disconnect(rep.error, rep.disconnect)
            if rep.result is None:
                ccfg = self.node.config.client
                if ccfg.allow_anonymous_connect_without_token or ccfg.insecure:
                    return hooks.ConnectResult()
                raise DisconnectRequest(3501)
            result = reply.to_connect(rep.result)
        for channel in result.subs:
            try:
                self.node.rules.options(channel)
            except UnknownNamespaceError:
                logger.warning("unknown channel %r in connect proxy result", channel)
                raise CommandError(102) from None
        return result

    # -- refresh (PX-11, P-94) ------------------------------------------------------------------

    async def refresh(self, session: ClientSession) -> hooks.RefreshResult:
        """Server-side connection refresh; a reply without ``result`` means expired."""
        ep = self.node.config.client.proxy.refresh
        body = request.refresh_body(session, ep)
        raw = await self._call("refresh", ep, session, body)
        with reading_reply("refresh", ep, session):
            rep = reply.decode_reply(raw, reply.RefreshReply)
            if rep.result is None:
                return hooks.RefreshResult(expired=True)
            return reply.to_refresh(rep.result)

    # -- subscribe (PX-12, P-90 step 7) -------------------------------------------------------

    async def subscribe(
        self,
        session: ClientSession,
        channel: str,
        opts: ChannelOptions,
        req: messages.SubscribeRequest,
    ) -> hooks.SubscribeResult:
        """``{"result":{}}`` or no result: allowed with namespace options."""
        ep = self._channel_proxy("subscribe", opts)
        body = request.subscribe_body(session, ep, channel, req)
        raw = await self._call("subscribe", ep, session, body)
        with reading_reply("subscribe", ep, session):
            rep = reply.decode_reply(raw, reply.SubscribeReply)
            reply.raise_error_or_disconnect(rep.error, rep.disconnect)
            if rep.result is None:
                return hooks.SubscribeResult()
            return reply.to_subscribe(rep.result)

    # -- publish (PX-13, P-91) ----------------------------------------------------------------

    async def publish(
        self,
        session: ClientSession,
        channel: str,
        opts: ChannelOptions,
        req: messages.PublishRequest,
    ) -> hooks.PublishResult:
        """The backend approves (optionally rewriting the payload); the node publishes."""
        ep = self._channel_proxy("publish", opts)
        body = request.publish_body(session, ep, channel, req)
        raw = await self._call("publish", ep, session, body)
        with reading_reply("publish", ep, session):
            rep = reply.decode_reply(raw, reply.PublishReply)
            reply.raise_error_or_disconnect(rep.error, rep.disconnect)
            if rep.result is None:
                return hooks.PublishResult()
            return reply.to_publish(rep.result)

    # -- sub_refresh (PX-14, P-95) ------------------------------------------------------------

    async def sub_refresh(self, session: ClientSession, sub: Subscriber) -> hooks.SubRefreshResult:
        """Server-side subscription refresh; a reply without ``result`` means expired."""
        ep = self._channel_proxy("sub_refresh", sub.options)
        body = request.sub_refresh_body(session, ep, sub.channel)
        raw = await self._call("sub_refresh", ep, session, body)
        with reading_reply("sub_refresh", ep, session):
            rep = reply.decode_reply(raw, reply.SubRefreshReply)
            if rep.result is None:
                return hooks.SubRefreshResult(expired=True)
            return reply.to_sub_refresh(rep.result)

    # -- rpc (PX-15, P-39, CH-10) ---------------------------------------------------------------

    async def rpc(self, session: ClientSession, req: messages.RPCRequest) -> bytes:
        """Unknown RPC namespace: 104; namespace without proxy: 108."""
        config = self.node.config
        ep = rpc_proxy(config, rpc_namespace(config, req.method))
        if ep is None:
            raise CommandError(108)
        body = request.rpc_body(session, ep, req)
        raw = await self._call("rpc", ep, session, body)
        with reading_reply("rpc", ep, session):
            rep = reply.decode_reply(raw, reply.RPCReply)
            reply.raise_error_or_disconnect(rep.error, rep.disconnect)
            if rep.result is None:
                return b""
            return reply.to_rpc(rep.result)

    def _channel_proxy(self, kind: str, opts: ChannelOptions) -> ProxyEndpoint:
        ep = channel_proxy(self.node.config, kind, opts)
        if ep is None:
            raise CommandError(108)  # proxy enabled for the namespace but not configured
        return ep

    def as_node_hooks(self) -> dict[str, Any]:
        """Attribute name on ``Node`` -> bound hook."""
        return {
            "connect_proxy": self.connect,
            "refresh_proxy": self.refresh,
            "subscribe_proxy": self.subscribe,
            "publish_proxy": self.publish,
            "sub_refresh_proxy": self.sub_refresh,
            "rpc_proxy": self.rpc,
        }
