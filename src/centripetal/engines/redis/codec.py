"""Compact encodings for what the Redis engine stores and sends (EN-06, GAP-04).

* A publication in a stream entry or a PUB/SUB message is a msgpack array
  ``[data, user, client, conn_info, chan_info, tags, time]`` (``user`` is nil without info);
  its offset is the stream entry ID, never stored twice.
* A PUB/SUB message starts with a kind byte, then an ASCII head ``<node>,<seq>,<delta>``:
  ``P<head>:<offset>:<epoch>:<prev_len>:<prev><pub>`` for publications (``prev`` is the
  previous stream entry for delta, built by the publish script), ``J<head>:<info>`` and
  ``L<head>:<info>`` for join/leave, ``C<head>:<data>`` for control messages (EN-10).
  Go interop is not a goal (GAP-04).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from centripetal.engines.base import ClientInfo, Publication

__all__ = [
    "Message",
    "decode_info",
    "decode_message",
    "decode_publication",
    "encode_info",
    "encode_publication",
    "make_head",
]

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder()

KIND_PUB = 0x50  # "P"
KIND_JOIN = 0x4A  # "J"
KIND_LEAVE = 0x4C  # "L"
KIND_CONTROL = 0x43  # "C"


def encode_publication(pub: Publication) -> bytes:
    info = pub.info
    if info is None:
        return _encoder.encode((pub.data, None, None, None, None, pub.tags, pub.time))
    return _encoder.encode(
        (pub.data, info.user, info.client, info.conn_info, info.chan_info, pub.tags, pub.time)
    )


def decode_publication(raw: bytes, offset: int) -> Publication:
    data, user, client, conn_info, chan_info, tags, time_ms = _decoder.decode(raw)
    info = None if user is None else ClientInfo(user, client, conn_info, chan_info)
    return Publication(data=data, info=info, offset=offset, tags=tags, time=time_ms)


def encode_info(info: ClientInfo) -> bytes:
    return _encoder.encode((info.user, info.client, info.conn_info, info.chan_info))


def decode_info(raw: bytes) -> ClientInfo:
    user, client, conn_info, chan_info = _decoder.decode(raw)
    return ClientInfo(user, client, conn_info, chan_info)


def make_head(node: str, seq: int, use_delta: bool) -> str:
    return f"{node},{seq},{1 if use_delta else 0}"


@dataclass(slots=True)
class Message:
    """One decoded PUB/SUB message."""

    kind: int
    node: str
    seq: int
    use_delta: bool = False
    offset: int = 0
    epoch: str = ""
    pub: Publication | None = None
    prev: Publication | None = None
    info: ClientInfo | None = None
    data: bytes = b""


def decode_message(raw: bytes) -> Message:
    """Parse a PUB/SUB payload; raises ``ValueError`` (or msgspec errors) when malformed."""
    kind = raw[0]
    colon = raw.index(b":")
    node, seq, delta = raw[1:colon].decode().split(",")
    msg = Message(kind, node, int(seq), delta == "1")
    if kind == KIND_PUB:
        offset, epoch, prev_len, rest = raw[colon + 1 :].split(b":", 3)
        n = int(prev_len)
        msg.offset = int(offset)
        msg.epoch = epoch.decode()
        msg.pub = decode_publication(rest[n:], msg.offset)
        if n:
            msg.prev = decode_publication(rest[:n], msg.offset - 1)
        return msg
    if kind in (KIND_JOIN, KIND_LEAVE):
        msg.info = decode_info(raw[colon + 1 :])
        return msg
    if kind == KIND_CONTROL:
        msg.data = raw[colon + 1 :]
        return msg
    raise ValueError(f"unknown message kind {kind!r}")
