"""The server API methods over a ``Node`` (spec §3: API-10..API-23).

Each method takes its typed request and returns its result struct, or raises ``ApiError``.
The executor knows nothing of HTTP: the new-format handler, the legacy ``POST /api`` format
and ``batch`` all call the same methods through ``METHODS``. User-targeted methods
(subscribe, unsubscribe, disconnect, refresh) act on the connections of this node; they are
the only node for now (a broker-level control channel will carry them to other nodes).

Error 100 means an internal failure (an engine outage, a bug), never bad input: a request
that does not decode is ``Method.decode``'s ``ApiError(107)`` (HTTP 400 in the new format,
API-05). Failures are logged as one line each, repeats summarised (``observability.logs``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

import msgspec

from centripetal.api import messages as m
from centripetal.api.errors import ApiError
from centripetal.api.glob import GlobError, compile_glob
from centripetal.cluster import Target
from centripetal.config.schema import Override
from centripetal.core.channels import UnknownNamespaceError
from centripetal.core.hooks import SubscribeOptions
from centripetal.core.permissions import check_publication_data
from centripetal.engines.base import (
    ClientInfo,
    EngineError,
    HistoryFilter,
    StreamPosition,
    UnrecoverablePositionError,
)
from centripetal.observability.logs import describe_exception, failure_log

if TYPE_CHECKING:
    from centripetal.config.schema import ChannelOptions
    from centripetal.node import Node

__all__ = ["METHODS", "Executor", "Method"]

failures = failure_log("centripetal.api")

DEFAULT_DISCONNECT = (3503, "force disconnect")  # API-14, D-3503
UNSUBSCRIBE_SERVER = 2000  # API-13, U-2000
EMPTY = m.EmptyResult()


def _b64(value: str) -> bytes:
    """Standard base64 with padding (API-08); malformed input is a bad request (107)."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(107) from None


def _payload(raw: msgspec.Raw, b64: str) -> bytes:
    return _b64(b64) if b64 else bytes(raw)


def _raw_or_none(value: bytes | None) -> msgspec.Raw | None:
    return msgspec.Raw(value) if value else None


def _info_out(info: ClientInfo) -> m.ClientInfoOut:
    return m.ClientInfoOut(
        client=info.client,
        user=info.user,
        conn_info=_raw_or_none(info.conn_info),
        chan_info=_raw_or_none(info.chan_info),
    )


def _override(req: m.SubscribeOverride | None) -> Override | None:
    if req is None:
        return None

    def value(v: m.BoolValue | None) -> bool | None:
        return None if v is None else v.value

    return Override(
        presence=value(req.presence),
        join_leave=value(req.join_leave),
        force_push_join_leave=value(req.force_push_join_leave),
        force_recovery=value(req.force_recovery),
        force_positioning=value(req.force_positioning),
    )


_json_check = msgspec.json.Decoder()


def _is_json(data: bytes) -> bool:
    """Whether ``data`` can be embedded in a JSON answer as it is."""
    try:
        _json_check.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True


class Executor:
    """Runs API methods against one node."""

    __slots__ = ("node",)

    def __init__(self, node: Node) -> None:
        self.node = node

    def _options(self, channel: str) -> ChannelOptions:
        if not channel:
            raise ApiError(107)
        try:
            return self.node.rules.options(channel)
        except UnknownNamespaceError:
            raise ApiError(102) from None

    # -- publish / broadcast (API-10, API-11) ----------------------------------------------------

    async def _publish_one(
        self, channel: str, data: bytes, req: m.PublishRequest | m.BroadcastRequest
    ) -> m.PublishResult:
        opts = self._options(channel)
        if opts.subscription_type not in ("", "stream"):
            raise ApiError(107)
        if not check_publication_data(opts, data):
            raise ApiError(107)
        try:
            position, _ = await self.node.publish(
                channel,
                data,
                opts,
                tags=req.tags,
                skip_history=req.skip_history,
                idempotency_key=req.idempotency_key,
                delta=req.delta,
                version=req.version,
                version_epoch=req.version_epoch,
            )
        except EngineError as exc:
            failures.failure(
                f"publish to {channel!r}", exc, key=("publish", describe_exception(exc))
            )
            raise ApiError(exc.code) from None
        if position.offset or position.epoch:
            return m.PublishResult(offset=position.offset, epoch=position.epoch)
        return m.PublishResult()

    async def publish(self, req: m.PublishRequest) -> m.PublishResult:
        if not req.channel:
            raise ApiError(107)
        return await self._publish_one(req.channel, _payload(req.data, req.b64data), req)

    async def broadcast(self, req: m.BroadcastRequest) -> m.BroadcastResult:
        if not req.channels:
            raise ApiError(107)
        data = _payload(req.data, req.b64data)

        async def one(channel: str) -> m.PublishResponse:
            try:
                return m.PublishResponse(result=await self._publish_one(channel, data, req))
            except ApiError as exc:
                return m.PublishResponse(error=m.ErrorOut(exc.code, exc.message))

        if len(req.channels) == 1:
            return m.BroadcastResult(responses=[await one(req.channels[0])])
        responses = await asyncio.gather(*(one(ch) for ch in req.channels))
        return m.BroadcastResult(responses=list(responses))

    # -- user-targeted methods (API-12..API-15) --------------------------------------------------

    async def subscribe(self, req: m.SubscribeRequest) -> m.EmptyResult:
        self._options(req.channel)
        info = _payload(req.info, req.b64info) or None
        data = _payload(req.data, req.b64data) or None
        options = SubscribeOptions(
            info=info, data=data, expire_at=req.expire_at, override=_override(req.override)
        )
        since = None
        if req.recover_since is not None:
            since = StreamPosition(req.recover_since.offset, req.recover_since.epoch)
        try:
            await self.node.cluster.subscribe(
                Target(req.user, req.client, req.session), req.channel, options, since
            )
        except EngineError as exc:
            raise ApiError(exc.code) from None
        except Exception as exc:
            failures.failure(
                f"server-side subscribe of user {req.user!r} to {req.channel!r}",
                exc,
                key=("subscribe", describe_exception(exc)),
            )
            raise ApiError(100) from None
        return EMPTY

    async def unsubscribe(self, req: m.UnsubscribeRequest) -> m.EmptyResult:
        if req.channel:
            self._options(req.channel)
        await self._cluster_call(
            "unsubscribe",
            self.node.cluster.unsubscribe(
                Target(req.user, req.client, req.session), req.channel, UNSUBSCRIBE_SERVER
            ),
        )
        return EMPTY

    async def disconnect(self, req: m.DisconnectRequest) -> m.EmptyResult:
        code, reason = DEFAULT_DISCONNECT
        if req.disconnect is not None:
            code, reason = req.disconnect.code, req.disconnect.reason
        await self._cluster_call(
            "disconnect",
            self.node.cluster.disconnect(
                Target(req.user, req.client, req.session), code, reason, list(req.whitelist)
            ),
        )
        return EMPTY

    async def refresh(self, req: m.RefreshRequest) -> m.EmptyResult:
        info = bytes(req.info) or None
        await self._cluster_call(
            "refresh",
            self.node.cluster.refresh(
                Target(req.user, req.client, req.session),
                expired=req.expired,
                expire_at=req.expire_at,
                info=info,
            ),
        )
        return EMPTY

    async def _cluster_call(self, what: str, call: Coroutine[Any, Any, None]) -> None:
        """Run a command on every node (EN-10); a broker failure is error 100."""
        try:
            await call
        except EngineError as exc:
            failures.failure(
                f"{what} control command", exc, key=("control", describe_exception(exc))
            )
            raise ApiError(exc.code) from None

    # -- presence (API-16, API-17) ---------------------------------------------------------------

    def _presence_channel(self, channel: str) -> None:
        if not self._options(channel).presence:
            raise ApiError(108)

    async def presence(self, req: m.PresenceRequest) -> m.PresenceResult:
        self._presence_channel(req.channel)
        try:
            entries = await self.node.presence_manager.presence(req.channel)
        except EngineError as exc:
            raise ApiError(exc.code) from None
        return m.PresenceResult(presence={cid: _info_out(i) for cid, i in entries.items()})

    async def presence_stats(self, req: m.PresenceStatsRequest) -> m.PresenceStatsResult:
        self._presence_channel(req.channel)
        try:
            stats = await self.node.presence_manager.presence_stats(req.channel)
        except EngineError as exc:
            raise ApiError(exc.code) from None
        return m.PresenceStatsResult(num_clients=stats.num_clients, num_users=stats.num_users)

    # -- history (API-18, API-19) ----------------------------------------------------------------

    def _history_options(self, channel: str) -> ChannelOptions:
        opts = self._options(channel)
        if not opts.history_enabled:
            raise ApiError(108)
        return opts

    async def history(self, req: m.HistoryRequest) -> m.HistoryResult:
        opts = self._history_options(req.channel)
        since = None
        if req.since is not None:
            since = StreamPosition(req.since.offset, req.since.epoch)
        flt = HistoryFilter(
            limit=req.limit, since=since, reverse=req.reverse, meta_ttl=opts.history_meta_ttl
        )
        try:
            hist = await self.node.broker.history(req.channel, flt)
        except UnrecoverablePositionError:
            raise ApiError(112) from None
        except EngineError as exc:
            failures.failure(
                f"history of {req.channel!r}", exc, key=("history", describe_exception(exc))
            )
            raise ApiError(exc.code) from None
        if not all(_is_json(p.data) for p in hist.publications if p.data):
            # published as b64data: the JSON API cannot carry it (Centrifugo answers HTTP 500)
            failures.failure(
                f"history of {req.channel!r}",
                "a publication is binary (published with b64data); the JSON API cannot carry it",
                key=("history", "binary"),
            )
            raise ApiError(100)
        pubs = [
            m.PublicationOut(
                data=msgspec.Raw(p.data) if p.data else m.NULL_RAW,
                info=_info_out(p.info) if p.info is not None else None,
                offset=p.offset,
                tags=p.tags or None,
            )
            for p in hist.publications
        ]
        pos = hist.position
        return m.HistoryResult(publications=pubs, epoch=pos.epoch, offset=pos.offset)

    async def history_remove(self, req: m.HistoryRemoveRequest) -> m.EmptyResult:
        self._history_options(req.channel)
        try:
            await self.node.broker.remove_history(req.channel)
        except EngineError as exc:
            raise ApiError(exc.code) from None
        return EMPTY

    # -- node-level (API-20..API-22) -------------------------------------------------------------

    async def channels(self, req: m.ChannelsRequest) -> m.ChannelsResult:
        try:
            match = compile_glob(req.pattern)
        except GlobError:
            raise ApiError(107) from None
        found = {
            ch: m.ChannelInfo(num_clients=n)
            for ch, n in (await self.node.cluster.channels()).items()
            if match(ch)
        }
        return m.ChannelsResult(channels=found)

    async def info(self, req: m.EmptyRequest) -> m.InfoResult:
        return m.InfoResult(
            nodes=[
                m.NodeResult(
                    uid=n.uid,
                    name=n.name,
                    version=n.version,
                    num_clients=n.num_clients,
                    num_users=n.num_users,
                    num_channels=n.num_channels,
                    uptime=n.uptime,
                    num_subs=n.num_subs,
                )
                for n in self.node.cluster.all_nodes()
            ]
        )

    async def rpc(self, req: m.RPCRequest) -> m.EmptyResult:
        """OSS registers no RPC extensions (API-22)."""
        raise ApiError(107 if not req.method else 104)

    async def batch(self, req: m.BatchRequest) -> dict[str, Any]:
        """API-23: ``{"replies": [...]}``, each ``{"<method>": result}`` or ``{"error": …}``;
        no commands: ``{}`` (the empty list is omitted, as Centrifugo does)."""
        if not req.commands:
            return {}
        if req.parallel and len(req.commands) > 1:
            replies = await asyncio.gather(*(self._batch_one(c) for c in req.commands))
            return {"replies": list(replies)}
        return {"replies": [await self._batch_one(c) for c in req.commands]}

    async def _batch_one(self, command: m.BatchCommand | None) -> dict[str, Any]:
        """One batch item, decoded with the batch body: ``null`` is 107; the first method
        present runs (Centrifugo's order, ``BATCH_METHODS``); none is 104 (API-23)."""
        if command is None:
            return {"error": m.ErrorOut(107, "bad request")}
        for name in m.BATCH_METHODS:
            req = getattr(command, name)
            if req is None:
                continue
            try:
                result = await METHODS[name].func(self, req)
            except ApiError as exc:
                return {"error": m.ErrorOut(exc.code, exc.message)}
            except Exception as exc:  # an internal failure of this item: error 100
                failures.failure(f"server API {name} in batch", exc, key=("batch", name, type(exc)))
                return {"error": m.ErrorOut(100, "internal server error")}
            return {name: result}
        return {"error": m.ErrorOut(104, "not found")}


class Method:
    """One API method: its request decoder and its executor function (precompiled routes)."""

    __slots__ = ("decoder", "func", "name")

    def __init__(
        self,
        name: str,
        request_type: type[Any],
        func: Callable[[Executor, Any], Awaitable[Any]],
    ) -> None:
        self.name = name
        self.decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(request_type)
        self.func = func

    def decode(self, body: bytes) -> Any:
        """The typed request of ``body``. Raises ``ApiError(107)`` - HTTP 400 ``Bad Request``
        in the new format (API-05), error 107 elsewhere (API-03) - and nothing else when the
        body does not decode: malformed JSON, wrong types, integers outside their
        ``api.proto`` type, nesting too deep (``RecursionError`` inside msgspec)."""
        try:
            return self.decoder.decode(body)
        except Exception:  # every way a body can fail to decode is the caller's fault
            raise ApiError(107) from None

    async def call(self, executor: Executor, params: bytes) -> Any:
        """Decode ``params`` and run; undecodable params are a bad request (107)."""
        return await self.func(executor, self.decode(params))


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method("publish", m.PublishRequest, Executor.publish),
        Method("broadcast", m.BroadcastRequest, Executor.broadcast),
        Method("subscribe", m.SubscribeRequest, Executor.subscribe),
        Method("unsubscribe", m.UnsubscribeRequest, Executor.unsubscribe),
        Method("disconnect", m.DisconnectRequest, Executor.disconnect),
        Method("refresh", m.RefreshRequest, Executor.refresh),
        Method("presence", m.PresenceRequest, Executor.presence),
        Method("presence_stats", m.PresenceStatsRequest, Executor.presence_stats),
        Method("history", m.HistoryRequest, Executor.history),
        Method("history_remove", m.HistoryRemoveRequest, Executor.history_remove),
        Method("channels", m.ChannelsRequest, Executor.channels),
        Method("info", m.EmptyRequest, Executor.info),
        Method("rpc", m.RPCRequest, Executor.rpc),
        Method("batch", m.BatchRequest, Executor.batch),
    )
}
"""Every OSS method routed under ``http_api.handler_prefix`` (API-01)."""
