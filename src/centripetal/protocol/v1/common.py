"""What the JSON and protobuf codecs of client protocol v1 share (spec §2, L-02..L-06, L-30..L-44).

The session speaks protocol v2 internally; these helpers translate at the edge. Request and
result bodies keep their protobuf field numbers between v1 and v2 (v2 only added fields), so a
v1 body is a v2 message restricted to the fields v1 had (:func:`trim`, L-57, L-58).
"""

from __future__ import annotations

from typing import Any

import msgspec

from centripetal.protocol import _fields as F
from centripetal.protocol import codes
from centripetal.protocol import messages as m

__all__ = [
    "MAX_CLOSE_REASON",
    "METHOD_FIELDS",
    "PUSH_TYPES",
    "close_frame",
    "command_from_request",
    "legacy_disconnect",
    "push_body",
    "reply_result",
    "request_class",
    "trim",
]

# L-03: method enum -> the v2 Command field carrying that request
METHOD_FIELDS: tuple[str, ...] = (
    "connect",
    "subscribe",
    "unsubscribe",
    "publish",
    "presence",
    "presence_stats",
    "history",
    "ping",
    "send",
    "rpc",
    "refresh",
    "sub_refresh",
)

_REQUEST_CLASSES: tuple[type[msgspec.Struct], ...] = (
    m.ConnectRequest,
    m.SubscribeRequest,
    m.UnsubscribeRequest,
    m.PublishRequest,
    m.PresenceRequest,
    m.PresenceStatsRequest,
    m.HistoryRequest,
    m.PingRequest,
    m.SendRequest,
    m.RPCRequest,
    m.RefreshRequest,
    m.SubRefreshRequest,
)

# L-06: push type enum, keyed by the v2 Push field name
PUSH_TYPES: dict[str, int] = {
    "pub": 0,
    "join": 1,
    "leave": 2,
    "unsubscribe": 3,
    "message": 4,
    "subscribe": 5,
    "connect": 6,
    "disconnect": 7,
    "refresh": 8,
}

# L-11..L-13, L-55..L-58: the fields each message had in protocol v1 (others: all fields)
_V1_FIELDS: dict[type[msgspec.Struct], frozenset[str]] = {
    m.Error: frozenset({"code", "message"}),
    m.ConnectRequest: frozenset({"token", "data", "subs", "name", "version"}),
    m.SubscribeRequest: frozenset({"channel", "token", "recover", "epoch", "offset", "data"}),
    m.SubRefreshRequest: frozenset({"channel", "token"}),
    m.PublishRequest: frozenset({"channel", "data"}),
    m.ConnectResult: frozenset({"client", "version", "expires", "ttl", "data", "subs"}),
    m.Connect: frozenset({"client", "version", "data", "subs", "expires", "ttl"}),
    m.SubscribeResult: frozenset(
        {
            "expires",
            "ttl",
            "recoverable",
            "epoch",
            "publications",
            "recovered",
            "offset",
            "positioned",
            "data",
        }
    ),
    m.SubRefreshResult: frozenset({"expires", "ttl"}),
    m.Publication: frozenset({"data", "info", "offset"}),
    m.Unsubscribe: frozenset(),
}

# The v2 Reply result fields, in proto order (L-04, L-51)
_RESULT_FIELDS: tuple[str, ...] = (
    "connect",
    "subscribe",
    "unsubscribe",
    "publish",
    "presence",
    "presence_stats",
    "history",
    "ping",
    "rpc",
    "refresh",
    "sub_refresh",
)


def request_class(method: int) -> type[msgspec.Struct] | None:
    """The request message of a v1 method number, ``None`` when unknown (L-03)."""
    if 0 <= method < len(_REQUEST_CLASSES):
        return _REQUEST_CLASSES[method]
    return None


def trim(obj: Any) -> Any:
    """A copy of ``obj`` holding only the fields protocol v1 defines, recursively."""
    cls = type(obj)
    keep = _V1_FIELDS.get(cls)
    kw: dict[str, Any] = {}
    for f in F.specs(cls):
        if keep is not None and f.name not in keep:
            continue
        v = getattr(obj, f.name)
        if not v and v is not None and f.kind != F.MSG:
            continue
        if v is None:
            continue
        if f.kind == F.MSG:
            kw[f.name] = trim(v)
        elif f.kind == F.MSG_LIST:
            kw[f.name] = [trim(x) for x in v]
        elif f.kind == F.MSG_MAP:
            kw[f.name] = {k: trim(x) for k, x in v.items()}
        else:
            kw[f.name] = v
    return cls(**kw)


def command_from_request(cmd_id: int, method: int, request: msgspec.Struct | None) -> m.Command:
    """The v2 command for a decoded v1 command. An unknown method gives a command with no
    request, which the session answers with error 104 for legacy clients (L-03)."""
    if request is None:
        return m.Command(id=cmd_id)
    return m.Command(id=cmd_id, **{METHOD_FIELDS[method]: trim(request)})


def reply_result(reply: m.Reply) -> msgspec.Struct | None:
    """The v1 ``result`` of a v2 reply, ``None`` when the reply carries none: the ping reply
    is ``{"id":N}`` (L-04, L-09)."""
    for name in _RESULT_FIELDS:
        v = getattr(reply, name)
        if v is not None:
            return None if name == "ping" else trim(v)
    return None


def push_body(push: m.Push) -> tuple[int, msgspec.Struct]:
    """The v1 push type and ``data`` message of a v2 push (L-05, L-06, L-56)."""
    for name, push_type in PUSH_TYPES.items():
        v = getattr(push, name)
        if v is None:
            continue
        if name == "disconnect":
            code, reason, reconnect = legacy_disconnect(v.code, v.reason)
            return push_type, m.Disconnect(code=code, reason=reason, reconnect=reconnect)
        return push_type, trim(v)
    raise ValueError("push carries no message")


# -- disconnects (L-10, L-30..L-44, D-WS3) --------------------------------------------------------

# v2 code -> (v3 code, v3 reason); reconnect from the v3 table
_V3_DISCONNECTS: dict[int, tuple[int, str, bool]] = {
    3000: (3000, "normal", True),
    3001: (3001, "shutdown", True),
    3004: (3004, "internal server error", True),
    3005: (3005, "expired", True),
    3006: (3006, "subscription expired", True),
    3008: (3008, "slow", True),
    3009: (3009, "write error", True),
    3010: (3010, "insufficient state", True),
    3011: (3011, "force reconnect", True),
    3500: (3002, "invalid token", False),
    3501: (3003, "bad request", False),
    3502: (3007, "stale", False),
    3503: (3012, "force disconnect", False),
    3504: (3013, "connection limit", False),
    3505: (3013, "channel limit", False),
}

MAX_CLOSE_REASON = 123  # RFC 6455: a close frame's reason is at most 123 bytes


def legacy_disconnect(code: int, reason: str) -> tuple[int, str, bool]:
    """A v2 disconnect as the v3 (code, reason, reconnect) triple.

    Codes of the v3 table map to it (L-30..L-44); other v2 server codes, which v3 did not
    have, become 3011 (reconnecting ones: 3012, 3013, 3014) or 3012 force disconnect
    (terminal ones: 3506..3509) with their own reason, since in v3 3012/3013 meant
    "no reconnect". Application codes (4000-4999) and anything else pass through, reconnect
    by the v2 ranges (D-CUSTOM).
    """
    known = _V3_DISCONNECTS.get(code)
    if known is not None:
        return known
    reconnect = codes.should_reconnect(code)
    reason = reason or codes.disconnect_reason(code)
    if 3000 <= code < 4000:
        return (3011 if reconnect else 3012), reason, reconnect
    return code, reason, reconnect


def close_frame(code: int, reason: str) -> tuple[int, str]:
    """The WebSocket close code and JSON reason ``{"reason":…,"reconnect":…}`` of a v2
    disconnect (L-10), the reason shortened so the JSON fits a close frame."""
    v3_code, v3_reason, reconnect = legacy_disconnect(code, reason)
    while True:
        text = msgspec.json.encode({"reason": v3_reason, "reconnect": reconnect})
        if len(text) <= MAX_CLOSE_REASON or not v3_reason:
            return v3_code, text.decode()
        v3_reason = v3_reason[:-1]
