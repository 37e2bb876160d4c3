"""Proxy request bodies and headers (spec PX-03..PX-06, PX-10..PX-15, TR-15).

Sans-I/O. Bodies are the JSON form of Centrifugo's ``proxy.proto`` requests: snake_case
field names in proto order, empty fields omitted, payloads embedded as raw JSON - or, with
``binary_encoding``, base64 in ``b64data`` and ``encoding: "binary"`` (PX-06).

Headers (PX-04, reliability S-4): only names listed in the proxy's ``http_headers`` are
copied from the client's HTTP handshake; client-supplied emulated headers
(``ConnectRequest.headers``) only when listed in ``emulated_headers``; then
``http.static_headers``; ``Content-Type: application/json`` always. Nothing else leaks.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from multidict import CIMultiDict

from centripetal.core.errors import CommandError

if TYPE_CHECKING:
    from centripetal.config.schema import ProxyEndpoint
    from centripetal.core.session import ClientSession
    from centripetal.protocol import messages

__all__ = [
    "connect_body",
    "forwarded_header_names",
    "publish_body",
    "refresh_body",
    "request_headers",
    "rpc_body",
    "sub_refresh_body",
    "subscribe_body",
]

# Never copied from the client even when listed: the HTTP client sets these itself.
_NEVER_FORWARDED = frozenset(
    {"content-type", "content-length", "host", "transfer-encoding", "connection"}
)
_encode = msgspec.json.Encoder().encode
_validate_json = msgspec.json.Decoder().decode


def _common(session: ClientSession, ep: ProxyEndpoint, *, user: bool) -> dict[str, Any]:
    """PX-05: client, transport, protocol, encoding (+ user on every event but connect)."""
    body: dict[str, Any] = {
        "client": session.client_id,
        "transport": session.transport,
        "protocol": session.codec.name,
        "encoding": "binary" if ep.binary_encoding else "json",
    }
    if user and session.user:
        body["user"] = session.user
    return body


def _put_payload(
    body: dict[str, Any], session: ClientSession, ep: ProxyEndpoint, data: bytes | None
) -> None:
    """``data`` as raw JSON, or ``b64data`` in binary mode (PX-06). A protobuf client's
    payload must be valid JSON unless binary mode is on: otherwise error 100 (fail closed)."""
    if not data:
        return
    if ep.binary_encoding:
        body["b64data"] = base64.b64encode(data).decode("ascii")
        return
    if session.codec.name != "json":
        try:
            _validate_json(data)
        except (msgspec.DecodeError, RecursionError):  # too deep is not valid JSON here either
            raise CommandError(100, "internal server error", temporary=True) from None
    body["data"] = msgspec.Raw(data)


def _put_meta(body: dict[str, Any], session: ClientSession, ep: ProxyEndpoint) -> None:
    """Connection meta, only with ``include_connection_meta`` (PX-05)."""
    if ep.include_connection_meta and session.meta:
        body["meta"] = msgspec.Raw(session.meta)


def connect_body(session: ClientSession, ep: ProxyEndpoint, req: messages.ConnectRequest) -> bytes:
    """PX-10: client, transport, protocol, encoding, data, name, version, channels."""
    body = _common(session, ep, user=False)
    _put_payload(body, session, ep, req.data)
    if req.name:
        body["name"] = req.name
    if req.version:
        body["version"] = req.version
    if req.subs:
        body["channels"] = list(req.subs)
    return _encode(body)


def refresh_body(session: ClientSession, ep: ProxyEndpoint) -> bytes:
    """PX-11: common fields, user, meta."""
    body = _common(session, ep, user=True)
    _put_meta(body, session, ep)
    return _encode(body)


def subscribe_body(
    session: ClientSession, ep: ProxyEndpoint, channel: str, req: messages.SubscribeRequest
) -> bytes:
    """PX-12: common fields, user, channel, token, meta, data."""
    body = _common(session, ep, user=True)
    body["channel"] = channel
    if req.token:
        body["token"] = req.token
    _put_meta(body, session, ep)
    _put_payload(body, session, ep, req.data)
    return _encode(body)


def publish_body(
    session: ClientSession, ep: ProxyEndpoint, channel: str, req: messages.PublishRequest
) -> bytes:
    """PX-13: common fields, user, channel, data, meta."""
    body = _common(session, ep, user=True)
    body["channel"] = channel
    _put_payload(body, session, ep, req.data)
    _put_meta(body, session, ep)
    return _encode(body)


def sub_refresh_body(session: ClientSession, ep: ProxyEndpoint, channel: str) -> bytes:
    """PX-14: common fields, user, channel, meta."""
    body = _common(session, ep, user=True)
    body["channel"] = channel
    _put_meta(body, session, ep)
    return _encode(body)


def rpc_body(session: ClientSession, ep: ProxyEndpoint, req: messages.RPCRequest) -> bytes:
    """PX-15: common fields, user, method, data, meta."""
    body = _common(session, ep, user=True)
    body["method"] = req.method
    _put_payload(body, session, ep, req.data)
    _put_meta(body, session, ep)
    return _encode(body)


def _allowed(names: Iterable[str]) -> frozenset[str]:
    return frozenset(n.lower() for n in names) - _NEVER_FORWARDED


def request_headers(
    ep: ProxyEndpoint,
    transport_headers: Mapping[str, str] | Iterable[tuple[str, str]],
    emulated: Mapping[str, str] | None = None,
) -> CIMultiDict[str]:
    """Outgoing headers (PX-04, TR-15, S-4). Precedence: static > transport > emulated."""
    out: CIMultiDict[str] = CIMultiDict()
    emulated_allowed = _allowed(ep.emulated_headers)
    if emulated and emulated_allowed:
        for name, value in emulated.items():
            if name.lower() in emulated_allowed:
                out[name] = value
    allowed = _allowed(ep.http_headers)
    if allowed:
        pairs = (
            transport_headers.items()
            if isinstance(transport_headers, Mapping)
            else transport_headers
        )
        seen: set[str] = set()
        for name, value in pairs:
            key = name.lower()
            if key not in allowed:
                continue
            if key not in seen:
                out.popall(name, None)
                seen.add(key)
            out.add(name, value)
    for name, value in ep.http.static_headers.items():
        out[name] = value
    out["Content-Type"] = "application/json"
    return out


def forwarded_header_names(config: Any) -> frozenset[str]:
    """Lower-case names of every handshake header some proxy forwards (``http_headers`` of
    every proxy object in the configuration, PX-04) or the user id is read from
    (``client.user_id_http_header``). A connection keeps only these headers."""
    from centripetal.config.schema import ProxyEndpoint

    names: set[str] = set()

    def walk(obj: Any) -> None:
        if isinstance(obj, ProxyEndpoint):
            names.update(h.lower() for h in obj.http_headers)
        elif isinstance(obj, msgspec.Struct):
            for name in obj.__struct_fields__:
                walk(getattr(obj, name))
        elif isinstance(obj, list | tuple):
            for item in obj:
                walk(item)
        elif isinstance(obj, dict):
            for item in obj.values():
                walk(item)

    walk(config)
    if config.client.user_id_http_header:
        names.add(config.client.user_id_http_header.lower())
    return frozenset(names)
