"""Proxy replies: decode, validate, map onto ``core.hooks`` results (PX-06, PX-07, PX-10..15).

Sans-I/O. Every reply is ``{"result": ...}`` | ``{"error": {code, message, temporary}}`` |
``{"disconnect": {code, reason}}``. Anything else - malformed JSON, wrong types, integers
outside their Go type (``code`` uint32, ``expire_at`` int64), nesting too deep, bad base64 -
is a backend failure: :class:`InvalidReply`, a ``CommandError(100, temporary)`` carrying the
reason (fail closed, R-11), which ``proxy.handlers`` logs once. Nothing else is raised.
``b64*`` fields take precedence over their raw JSON twins (PX-06). Override flags arrive as
``{"value": bool}`` objects (PX-12).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

import msgspec

from centripetal.config.schema import Override
from centripetal.core import hooks
from centripetal.core.errors import CommandError, DisconnectRequest
from centripetal.protocol.ints import Int64, Uint32

__all__ = [
    "ConnectReply",
    "InvalidReply",
    "PublishReply",
    "RPCReply",
    "RefreshReply",
    "SubRefreshReply",
    "SubscribeReply",
    "decode_reply",
    "internal_error",
    "raise_error_or_disconnect",
    "to_connect",
    "to_publish",
    "to_refresh",
    "to_rpc",
    "to_sub_refresh",
    "to_subscribe",
]


def internal_error() -> CommandError:
    """E-100, temporary: what every backend failure becomes (PX-03, R-11)."""
    return CommandError(100, "internal server error", temporary=True)


class InvalidReply(CommandError):
    """A backend answer that cannot be used: error 100, temporary, like every backend
    failure (R-11); ``reason`` says what is wrong with it, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(100, "internal server error", temporary=True)
        self.reason = reason


class _Struct(msgspec.Struct, forbid_unknown_fields=False):
    pass


class ProxyError(_Struct):
    code: Uint32
    message: str = ""
    temporary: bool = False


class ProxyDisconnect(_Struct):
    code: Uint32
    reason: str = ""


class BoolValue(_Struct):
    value: bool = False


class WireOverride(_Struct):
    presence: BoolValue | None = None
    join_leave: BoolValue | None = None
    force_push_join_leave: BoolValue | None = None
    force_recovery: BoolValue | None = None
    force_positioning: BoolValue | None = None


class WireSubOptions(_Struct):
    expire_at: Int64 = 0
    info: msgspec.Raw = msgspec.Raw()
    b64info: str = ""
    data: msgspec.Raw = msgspec.Raw()
    b64data: str = ""
    override: WireOverride | None = None


class WireConnectSubOptions(WireSubOptions):
    cache_recover: bool = False  # PX-10 (v6.8.3): cache recovery on every subscribe (HR-08)


class ConnectResultWire(_Struct):
    user: str = ""
    expire_at: Int64 = 0
    info: msgspec.Raw = msgspec.Raw()
    b64info: str = ""
    data: msgspec.Raw = msgspec.Raw()
    b64data: str = ""
    channels: list[str] | None = None
    subs: dict[str, WireConnectSubOptions] | None = None
    meta: msgspec.Raw = msgspec.Raw()


class RefreshResultWire(_Struct):
    expired: bool = False
    expire_at: Int64 = 0
    info: msgspec.Raw = msgspec.Raw()
    b64info: str = ""
    meta: msgspec.Raw = msgspec.Raw()


class SubscribeResultWire(WireSubOptions):
    pass


class PublishResultWire(_Struct):
    data: msgspec.Raw = msgspec.Raw()
    b64data: str = ""
    skip_history: bool = False
    tags: dict[str, str] | None = None
    idempotency_key: str = ""
    delta: bool = False


class SubRefreshResultWire(_Struct):
    expired: bool = False
    expire_at: Int64 = 0
    info: msgspec.Raw = msgspec.Raw()
    b64info: str = ""


class RPCResultWire(_Struct):
    data: msgspec.Raw = msgspec.Raw()
    b64data: str = ""


class ConnectReply(_Struct):
    result: ConnectResultWire | None = None
    error: ProxyError | None = None
    disconnect: ProxyDisconnect | None = None


class RefreshReply(_Struct):
    result: RefreshResultWire | None = None
    error: ProxyError | None = None
    disconnect: ProxyDisconnect | None = None


class SubscribeReply(_Struct):
    result: SubscribeResultWire | None = None
    error: ProxyError | None = None
    disconnect: ProxyDisconnect | None = None


class PublishReply(_Struct):
    result: PublishResultWire | None = None
    error: ProxyError | None = None
    disconnect: ProxyDisconnect | None = None


class SubRefreshReply(_Struct):
    result: SubRefreshResultWire | None = None
    error: ProxyError | None = None
    disconnect: ProxyDisconnect | None = None


class RPCReply(_Struct):
    result: RPCResultWire | None = None
    error: ProxyError | None = None
    disconnect: ProxyDisconnect | None = None


R = TypeVar("R")
_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decode_reply(body: bytes, reply_type: type[R]) -> R:
    """Decode a 200 body. Raises :class:`InvalidReply` (error 100, R-11), and nothing else,
    on any body that does not decode: malformed JSON, wrong types, numbers out of range,
    nesting too deep."""
    decoder = _decoders.get(reply_type)
    if decoder is None:
        decoder = _decoders[reply_type] = msgspec.json.Decoder(reply_type)
    try:
        return decoder.decode(body)  # type: ignore[no-any-return]
    except RecursionError:
        raise InvalidReply("invalid JSON: nesting too deep") from None
    except Exception as exc:  # msgspec errors, MemoryError
        raise InvalidReply(f"invalid JSON: {exc or type(exc).__name__}") from None


def raise_error_or_disconnect(error: ProxyError | None, disconnect: ProxyDisconnect | None) -> None:
    """Backend ``disconnect`` / ``error`` passed through verbatim (PX-07); disconnect first."""
    if disconnect is not None:
        raise DisconnectRequest(disconnect.code, disconnect.reason)
    if error is not None:
        raise CommandError(error.code, error.message, temporary=error.temporary)


def _raw(value: msgspec.Raw) -> bytes | None:
    data = bytes(value)
    return None if not data or data == b"null" else data


def _payload(raw: msgspec.Raw, b64: str) -> bytes | None:
    """``b64*`` wins over the raw JSON twin (PX-06); bad base64: error 100."""
    if b64:
        try:
            return base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidReply("invalid base64 in a b64 field") from None
    return _raw(raw)


def _override(wire: WireOverride | None) -> Override | None:
    if wire is None:
        return None

    def flag(v: BoolValue | None) -> bool | None:
        return None if v is None else v.value

    return Override(
        presence=flag(wire.presence),
        join_leave=flag(wire.join_leave),
        force_push_join_leave=flag(wire.force_push_join_leave),
        force_recovery=flag(wire.force_recovery),
        force_positioning=flag(wire.force_positioning),
    )


def to_connect(res: ConnectResultWire) -> hooks.ConnectResult:
    """PX-10: credentials; ``channels`` (no options) then ``subs`` (with options)."""
    subs: dict[str, hooks.SubscribeOptions | None] = dict.fromkeys(res.channels or ())
    for ch, opt in (res.subs or {}).items():
        subs[ch] = hooks.SubscribeOptions(
            info=_payload(opt.info, opt.b64info),
            data=_payload(opt.data, opt.b64data),
            expire_at=opt.expire_at,
            override=_override(opt.override),
            cache_recover=opt.cache_recover,
        )
    return hooks.ConnectResult(
        user=res.user,
        expire_at=res.expire_at,
        info=_payload(res.info, res.b64info),
        data=_payload(res.data, res.b64data),
        meta=_raw(res.meta),
        subs=subs,
    )


def to_refresh(res: RefreshResultWire) -> hooks.RefreshResult:
    """PX-11."""
    if res.expired:
        return hooks.RefreshResult(expired=True)
    return hooks.RefreshResult(
        expire_at=res.expire_at, info=_payload(res.info, res.b64info), meta=_raw(res.meta)
    )


def to_subscribe(res: SubscribeResultWire) -> hooks.SubscribeResult:
    """PX-12."""
    return hooks.SubscribeResult(
        info=_payload(res.info, res.b64info),
        data=_payload(res.data, res.b64data),
        expire_at=res.expire_at,
        override=_override(res.override),
    )


def to_publish(res: PublishResultWire) -> hooks.PublishResult:
    """PX-13: ``data`` replaces the client's payload when present."""
    return hooks.PublishResult(
        data=_payload(res.data, res.b64data),
        skip_history=res.skip_history,
        tags=res.tags or None,
        idempotency_key=res.idempotency_key,
        delta=res.delta,
    )


def to_sub_refresh(res: SubRefreshResultWire) -> hooks.SubRefreshResult:
    """PX-14."""
    if res.expired:
        return hooks.SubRefreshResult(expired=True)
    return hooks.SubRefreshResult(expire_at=res.expire_at, info=_payload(res.info, res.b64info))


def to_rpc(res: RPCResultWire) -> bytes:
    """PX-15: the RPC reply payload (empty when absent)."""
    return _payload(res.data, res.b64data) or b""
