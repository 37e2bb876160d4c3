"""Client protocol v2 messages as msgspec Structs (spec §1.2-§1.4, field numbers in §1.9).

Field names are the proto field names in snake_case (P-07); protobuf tags live in
``client.proto``. Payload fields (``data``, ``conn_info``, ``chan_info``, ``prev_data``, ...)
are ``bytes`` everywhere, ``b""`` meaning absent: the JSON codec embeds them as raw JSON
(P-08), the protobuf codec carries them as bytes. Map fields are ``None`` when absent.
Zero values are omitted on the wire except the fields listed in :data:`ALWAYS_EMIT` (P-10).
"""

from __future__ import annotations

import builtins

import msgspec


def _empty_map_to_none(obj: msgspec.Struct, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(obj, name) == {}:
            setattr(obj, name, None)


class Error(msgspec.Struct, omit_defaults=True):
    """PF-01, P-23: ``{"code", "message", "temporary"}``."""

    code: int = 0
    message: str = ""
    temporary: bool = False


class ClientInfo(msgspec.Struct, omit_defaults=True):
    """PF-05, P-49a. ``user`` and ``client`` are always emitted (P-10)."""

    user: str = ""
    client: str = ""
    conn_info: bytes = b""
    chan_info: bytes = b""


class Publication(msgspec.Struct, omit_defaults=True):
    """PF-06, P-42."""

    data: bytes = b""
    info: ClientInfo | None = None
    offset: int = 0
    tags: dict[str, str] | None = None
    delta: bool = False
    time: int = 0
    channel: str = ""
    key: str = ""
    removed: bool = False
    score: int = 0
    epoch: str = ""
    prev_data: bytes = b""
    version: int = 0

    def __post_init__(self) -> None:
        _empty_map_to_none(self, ("tags",))


class Join(msgspec.Struct, omit_defaults=True):
    """PF-07, P-43."""

    info: ClientInfo | None = None


class Leave(msgspec.Struct, omit_defaults=True):
    """PF-07, P-43."""

    info: ClientInfo | None = None


class Unsubscribe(msgspec.Struct, omit_defaults=True):
    """PF-08, P-44."""

    code: int = 0
    reason: str = ""


class Subscribe(msgspec.Struct, omit_defaults=True):
    """PF-09, P-46 (server-side subscription push)."""

    recoverable: bool = False
    epoch: str = ""
    offset: int = 0
    positioned: bool = False
    data: bytes = b""


class Message(msgspec.Struct, omit_defaults=True):
    """PF-10, P-45."""

    data: bytes = b""


class Disconnect(msgspec.Struct, omit_defaults=True):
    """PF-12, P-48."""

    code: int = 0
    reason: str = ""
    reconnect: bool = False


class Refresh(msgspec.Struct, omit_defaults=True):
    """PF-13, P-49."""

    expires: bool = False
    ttl: int = 0


class StreamPosition(msgspec.Struct, omit_defaults=True):
    """PF-24."""

    offset: int = 0
    epoch: str = ""


class FilterNode(msgspec.Struct, omit_defaults=True):
    """PF-30: tags filter tree."""

    op: str = ""
    key: str = ""
    cmp: str = ""
    val: str = ""
    vals: list[str] = msgspec.field(default_factory=list)
    nodes: list[FilterNode] = msgspec.field(default_factory=list)


class KeyedItem(msgspec.Struct, omit_defaults=True):
    """PF-31 (shared poll)."""

    key: str = ""
    version: int = 0


class TrackBatch(msgspec.Struct, omit_defaults=True):
    """PF-31 (shared poll)."""

    signature: str = ""
    items: list[KeyedItem] = msgspec.field(default_factory=list)


class Dictionary(msgspec.Struct, omit_defaults=True):
    """PF-32 (not used by Centrifugo v6.9.1, GAP-02)."""

    id: int = 0
    data: bytes = b""
    data_b64: str = ""


# -- requests and results (§1.3) ----------------------------------------------------------------


class SubscribeRequest(msgspec.Struct, omit_defaults=True):
    """PF-17, P-31."""

    channel: str = ""
    token: str = ""
    recover: bool = False
    epoch: str = ""
    offset: int = 0
    data: bytes = b""
    positioned: bool = False
    recoverable: bool = False
    join_leave: bool = False
    delta: str = ""
    tf: FilterNode | None = None
    flag: int = 0
    type: int = 0
    phase: int = 0
    cursor: str = ""
    limit: int = 0
    asc: bool = False


class SubscribeResult(msgspec.Struct, omit_defaults=True):
    """PF-18, P-31."""

    expires: bool = False
    ttl: int = 0
    recoverable: bool = False
    epoch: str = ""
    publications: list[Publication] = msgspec.field(default_factory=list)
    recovered: bool = False
    offset: int = 0
    positioned: bool = False
    data: bytes = b""
    was_recovering: bool = False
    delta: bool = False
    id: int = 0
    type: int = 0
    phase: int = 0
    cursor: str = ""
    state: list[Publication] = msgspec.field(default_factory=list)
    publish_debounce: int = 0


class Connect(msgspec.Struct, omit_defaults=True):
    """PF-11, P-47: connect push of unidirectional transports (numbering differs from
    ConnectResult)."""

    client: str = ""
    version: str = ""
    data: bytes = b""
    subs: dict[str, SubscribeResult] | None = None
    expires: bool = False
    ttl: int = 0
    ping: int = 0
    pong: bool = False
    session: str = ""
    node: str = ""
    time: int = 0

    def __post_init__(self) -> None:
        _empty_map_to_none(self, ("subs",))


class ConnectRequest(msgspec.Struct, omit_defaults=True):
    """PF-14, P-30."""

    token: str = ""
    data: bytes = b""
    subs: builtins.dict[str, SubscribeRequest] | None = None
    name: str = ""
    version: str = ""
    headers: builtins.dict[str, str] | None = None
    flag: int = 0
    dict: int = 0
    profile: str = ""

    def __post_init__(self) -> None:
        _empty_map_to_none(self, ("subs", "headers"))


class ConnectResult(msgspec.Struct, omit_defaults=True):
    """PF-15, P-30."""

    client: str = ""
    version: str = ""
    expires: bool = False
    ttl: int = 0
    data: bytes = b""
    subs: builtins.dict[str, SubscribeResult] | None = None
    ping: int = 0
    pong: bool = False
    session: str = ""
    node: str = ""
    time: int = 0
    flag: int = 0
    dict: Dictionary | None = None

    def __post_init__(self) -> None:
        _empty_map_to_none(self, ("subs",))


class RefreshRequest(msgspec.Struct, omit_defaults=True):
    """PF-16, P-40."""

    token: str = ""


class RefreshResult(msgspec.Struct, omit_defaults=True):
    """PF-16, P-40."""

    client: str = ""
    version: str = ""
    expires: bool = False
    ttl: int = 0


class SubRefreshRequest(msgspec.Struct, omit_defaults=True):
    """PF-19, P-41."""

    channel: str = ""
    token: str = ""
    type: int = 0
    track: list[TrackBatch] = msgspec.field(default_factory=list)
    untrack: list[str] = msgspec.field(default_factory=list)


class SubRefreshResult(msgspec.Struct, omit_defaults=True):
    """PF-19, P-41."""

    expires: bool = False
    ttl: int = 0
    items: list[Publication] = msgspec.field(default_factory=list)


class UnsubscribeRequest(msgspec.Struct, omit_defaults=True):
    """PF-20, P-32."""

    channel: str = ""


class UnsubscribeResult(msgspec.Struct, omit_defaults=True):
    """PF-20, P-32."""


class PublishRequest(msgspec.Struct, omit_defaults=True):
    """PF-21, P-33."""

    channel: str = ""
    data: bytes = b""
    type: int = 0
    key: str = ""
    removed: bool = False


class PublishResult(msgspec.Struct, omit_defaults=True):
    """PF-21, P-33."""


class PresenceRequest(msgspec.Struct, omit_defaults=True):
    """PF-22, P-34."""

    channel: str = ""


class PresenceResult(msgspec.Struct, omit_defaults=True):
    """PF-22, P-34. ``presence`` is always emitted (P-10)."""

    presence: dict[str, ClientInfo] | None = None


class PresenceStatsRequest(msgspec.Struct, omit_defaults=True):
    """PF-23, P-35."""

    channel: str = ""


class PresenceStatsResult(msgspec.Struct, omit_defaults=True):
    """PF-23, P-35. Both counters are always emitted (P-10)."""

    num_clients: int = 0
    num_users: int = 0


class HistoryRequest(msgspec.Struct, omit_defaults=True):
    """PF-25, P-36."""

    channel: str = ""
    limit: int = 0
    since: StreamPosition | None = None
    reverse: bool = False


class HistoryResult(msgspec.Struct, omit_defaults=True):
    """PF-25, P-36. All three fields are always emitted (P-10)."""

    publications: list[Publication] = msgspec.field(default_factory=list)
    epoch: str = ""
    offset: int = 0


class PingRequest(msgspec.Struct, omit_defaults=True):
    """PF-26, P-37."""


class PingResult(msgspec.Struct, omit_defaults=True):
    """PF-26, P-37."""


class RPCRequest(msgspec.Struct, omit_defaults=True):
    """PF-27, P-39."""

    data: bytes = b""
    method: str = ""


class RPCResult(msgspec.Struct, omit_defaults=True):
    """PF-27, P-39."""

    data: bytes = b""


class SendRequest(msgspec.Struct, omit_defaults=True):
    """PF-28, P-38."""

    data: bytes = b""


class EmulationRequest(msgspec.Struct, omit_defaults=True):
    """PF-29 (emulation endpoint body, TR-04)."""

    node: str = ""
    session: str = ""
    data: bytes = b""


# -- envelopes (§1.2) ---------------------------------------------------------------------------


class Push(msgspec.Struct, omit_defaults=True):
    """PF-04, P-24: ``channel`` plus exactly one push field."""

    id: int = 0
    channel: str = ""
    pub: Publication | None = None
    join: Join | None = None
    leave: Leave | None = None
    unsubscribe: Unsubscribe | None = None
    message: Message | None = None
    subscribe: Subscribe | None = None
    connect: Connect | None = None
    disconnect: Disconnect | None = None
    refresh: Refresh | None = None


class Command(msgspec.Struct, omit_defaults=True):
    """PF-02, P-20: ``id`` plus one request field; no field and no id is a pong (P-21)."""

    id: int = 0
    connect: ConnectRequest | None = None
    subscribe: SubscribeRequest | None = None
    unsubscribe: UnsubscribeRequest | None = None
    publish: PublishRequest | None = None
    presence: PresenceRequest | None = None
    presence_stats: PresenceStatsRequest | None = None
    history: HistoryRequest | None = None
    ping: PingRequest | None = None
    send: SendRequest | None = None
    rpc: RPCRequest | None = None
    refresh: RefreshRequest | None = None
    sub_refresh: SubRefreshRequest | None = None


class Reply(msgspec.Struct, omit_defaults=True):
    """PF-03, P-23..P-25: ``id`` plus ``error``, a result, or a ``push``; empty = ping."""

    id: int = 0
    error: Error | None = None
    push: Push | None = None
    connect: ConnectResult | None = None
    subscribe: SubscribeResult | None = None
    unsubscribe: UnsubscribeResult | None = None
    publish: PublishResult | None = None
    presence: PresenceResult | None = None
    presence_stats: PresenceStatsResult | None = None
    history: HistoryResult | None = None
    ping: PingResult | None = None
    rpc: RPCResult | None = None
    refresh: RefreshResult | None = None
    sub_refresh: SubRefreshResult | None = None


ALWAYS_EMIT: dict[type[msgspec.Struct], frozenset[str]] = {
    ClientInfo: frozenset({"user", "client"}),
    PresenceStatsResult: frozenset({"num_clients", "num_users"}),
    HistoryResult: frozenset({"publications", "epoch", "offset"}),
    PresenceResult: frozenset({"presence"}),
}
"""P-10: fields emitted in JSON even when they hold the zero value."""
