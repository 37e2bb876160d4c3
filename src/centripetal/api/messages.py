"""Typed requests and results of the server HTTP API (spec §3: API-08, API-10..API-23).

Field names follow the API schema (``centrifugo-api.swagger.json``). ``data`` and ``info`` are
raw embedded JSON (``msgspec.Raw``); ``b64data``/``b64info`` carry standard base64 and take
precedence (API-08). Results encode with ``omit_defaults``: fields without a default are always
emitted (API-17, API-18, API-21), the others only when set, as Centrifugo's omitempty does.

Integer fields carry the range of their type in Centrifugo's ``api.proto`` (``limit`` int32,
``expire_at`` int64, ``version`` and ``offset`` uint64, ``disconnect.code`` uint32; the legacy
``id`` uint32 and ``method`` int32): a body holding a number outside it, a float where an
integer goes, or any other wrong type fails to decode like malformed JSON - HTTP 400 for a
method body (API-05), error 107 for the params of one legacy command (API-03).
"""

from __future__ import annotations

import msgspec

from centripetal.protocol.ints import UINT64_MAX, Int32, Int64, Uint32, Uint64

__all__ = [
    "BATCH_METHODS",
    "EMPTY_RAW",
    "NULL_RAW",
    "BatchCommand",
    "BatchRequest",
    "BoolValue",
    "BroadcastRequest",
    "BroadcastResult",
    "ChannelInfo",
    "ChannelsRequest",
    "ChannelsResult",
    "ClientInfoOut",
    "DisconnectRequest",
    "DisconnectSpec",
    "EmptyRequest",
    "EmptyResult",
    "ErrorOut",
    "HistoryRemoveRequest",
    "HistoryRequest",
    "HistoryResult",
    "InfoResult",
    "LegacyCommand",
    "NodeResult",
    "PositionIn",
    "PresenceRequest",
    "PresenceResult",
    "PresenceStatsRequest",
    "PresenceStatsResult",
    "PublicationOut",
    "PublishRequest",
    "PublishResponse",
    "PublishResult",
    "RPCRequest",
    "RefreshRequest",
    "SubscribeOverride",
    "SubscribeRequest",
    "UnsubscribeRequest",
]

EMPTY_RAW = msgspec.Raw(b"")
NULL_RAW = msgspec.Raw(b"null")


class _Req(msgspec.Struct, kw_only=True):
    """Requests ignore unknown fields, as Centrifugo's decoder does."""


class _Out(msgspec.Struct, kw_only=True, omit_defaults=True):
    pass


# -- requests ----------------------------------------------------------------------------------


class PositionIn(_Req):
    """``StreamPosition`` (``since``, ``recover_since``): ``offset`` uint64."""

    offset: Uint64 = 0
    epoch: str = ""

    def __post_init__(self) -> None:
        if self.offset > UINT64_MAX:  # msgspec bounds stop at int64 (ints.py)
            raise ValueError("`offset` out of range for uint64")


class BoolValue(_Req):
    value: bool = False


class SubscribeOverride(_Req):
    """``SubscribeOptionOverride`` of API-12: each option wrapped as ``{"value": bool}``."""

    presence: BoolValue | None = None
    join_leave: BoolValue | None = None
    force_recovery: BoolValue | None = None
    force_positioning: BoolValue | None = None
    force_push_join_leave: BoolValue | None = None


class DisconnectSpec(_Req):
    """``Disconnect`` of API-14: ``code`` uint32."""

    code: Uint32 = 0
    reason: str = ""


class PublishRequest(_Req):
    """API-10."""

    channel: str = ""
    data: msgspec.Raw = EMPTY_RAW
    b64data: str = ""
    skip_history: bool = False
    tags: dict[str, str] | None = None
    idempotency_key: str = ""
    delta: bool = False
    version: Uint64 = 0
    version_epoch: str = ""

    def __post_init__(self) -> None:
        if self.version > UINT64_MAX:  # msgspec bounds stop at int64 (ints.py)
            raise ValueError("`version` out of range for uint64")


class BroadcastRequest(_Req):
    """API-11."""

    channels: list[str] = []
    data: msgspec.Raw = EMPTY_RAW
    b64data: str = ""
    skip_history: bool = False
    tags: dict[str, str] | None = None
    idempotency_key: str = ""
    delta: bool = False
    version: Uint64 = 0
    version_epoch: str = ""

    def __post_init__(self) -> None:
        if self.version > UINT64_MAX:  # msgspec bounds stop at int64 (ints.py)
            raise ValueError("`version` out of range for uint64")


class SubscribeRequest(_Req):
    """API-12."""

    channel: str = ""
    user: str = ""
    expire_at: Int64 = 0
    info: msgspec.Raw = EMPTY_RAW
    b64info: str = ""
    client: str = ""
    data: msgspec.Raw = EMPTY_RAW
    b64data: str = ""
    recover_since: PositionIn | None = None
    override: SubscribeOverride | None = None
    session: str = ""


class UnsubscribeRequest(_Req):
    """API-13."""

    channel: str = ""
    user: str = ""
    client: str = ""
    session: str = ""


class DisconnectRequest(_Req):
    """API-14."""

    user: str = ""
    disconnect: DisconnectSpec | None = None
    client: str = ""
    whitelist: list[str] = []
    session: str = ""


class RefreshRequest(_Req):
    """API-15."""

    user: str = ""
    client: str = ""
    expired: bool = False
    expire_at: Int64 = 0
    info: msgspec.Raw = EMPTY_RAW
    session: str = ""


class PresenceRequest(_Req):
    """API-16."""

    channel: str = ""


class PresenceStatsRequest(_Req):
    """API-17."""

    channel: str = ""


class HistoryRequest(_Req):
    """API-18."""

    channel: str = ""
    limit: Int32 = 0
    since: PositionIn | None = None
    reverse: bool = False


class HistoryRemoveRequest(_Req):
    """API-19."""

    channel: str = ""


class ChannelsRequest(_Req):
    """API-20."""

    pattern: str = ""


class EmptyRequest(_Req):
    """API-21 ``info``."""


class RPCRequest(_Req):
    """API-22."""

    method: str = ""
    params: msgspec.Raw = EMPTY_RAW


class BatchCommand(_Req):
    """API-23: one ``Command`` of a batch, decoded with the batch body (a bad item makes the
    whole body undecodable: HTTP 400, API-05). Fields in the order Centrifugo tries them;
    the first one present runs, none is 104; unknown keys are ignored."""

    publish: PublishRequest | None = None
    broadcast: BroadcastRequest | None = None
    subscribe: SubscribeRequest | None = None
    unsubscribe: UnsubscribeRequest | None = None
    disconnect: DisconnectRequest | None = None
    history: HistoryRequest | None = None
    history_remove: HistoryRemoveRequest | None = None
    presence: PresenceRequest | None = None
    presence_stats: PresenceStatsRequest | None = None
    info: EmptyRequest | None = None
    rpc: RPCRequest | None = None
    refresh: RefreshRequest | None = None
    channels: ChannelsRequest | None = None


BATCH_METHODS: tuple[str, ...] = tuple(f.name for f in msgspec.structs.fields(BatchCommand))
"""The method names a batch command can carry, in the order they are tried (API-23)."""


class BatchRequest(_Req):
    """API-23: ``null`` commands are allowed (answered 107)."""

    commands: list[BatchCommand | None] = []
    parallel: bool = False


class LegacyCommand(_Req):
    """API-03: one line of the legacy ``POST /api`` body; ``id`` uint32, ``method`` a name or
    an int32 enum number (a line outside those types is undecodable: HTTP 400)."""

    id: Uint32 = 0
    method: str | Int32 = 0
    params: msgspec.Raw = EMPTY_RAW


# -- results -----------------------------------------------------------------------------------


class ErrorOut(msgspec.Struct):
    code: int
    message: str


class EmptyResult(_Out):
    """``{}`` (subscribe, unsubscribe, disconnect, refresh, history_remove)."""


class PublishResult(_Out):
    """API-10: ``offset``/``epoch`` only when the channel keeps history."""

    offset: int = 0
    epoch: str = ""


class PublishResponse(_Out):
    """One entry of broadcast ``responses`` (API-11)."""

    error: ErrorOut | None = None
    result: PublishResult | None = None


class BroadcastResult(_Out):
    responses: list[PublishResponse]


class ClientInfoOut(_Out):
    """API-16 presence entry / publication ``info``."""

    client: str
    user: str
    conn_info: msgspec.Raw | None = None
    chan_info: msgspec.Raw | None = None


class PresenceResult(_Out):
    presence: dict[str, ClientInfoOut]


class PresenceStatsResult(_Out):
    num_clients: int
    num_users: int


class PublicationOut(_Out):
    """API-18 publication: ``{data, info?, offset, tags?}``."""

    data: msgspec.Raw
    offset: int
    info: ClientInfoOut | None = None
    tags: dict[str, str] | None = None


class HistoryResult(_Out):
    publications: list[PublicationOut]
    epoch: str
    offset: int


class ChannelInfo(_Out):
    num_clients: int


class ChannelsResult(_Out):
    channels: dict[str, ChannelInfo]


class NodeResult(_Out):
    """API-21 / API-33 ``NodeResult``."""

    uid: str
    name: str
    version: str
    num_clients: int
    num_users: int
    num_channels: int
    uptime: int
    num_subs: int


class InfoResult(_Out):
    nodes: list[NodeResult]
