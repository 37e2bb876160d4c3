"""Wire format of the NATS broker's messages on ``<prefix>.client.<channel>`` (EN-08).

A message is one msgpack array ``[kind, data, user, client, conn_info, chan_info, tags, time,
delta]``: ``kind`` is ``"p"`` (publication), ``"j"`` (join) or ``"l"`` (leave); ``user`` is nil
when the publication has no client info; ``data``/``tags``/``time``/``delta`` are nil for
join/leave. The channel is the subject, never repeated. Control messages on
``<prefix>.control`` travel as raw bytes (EN-10). Go interop is not a goal (GAP-04).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from centripetal.engines.base import ClientInfo, Publication

__all__ = [
    "KIND_JOIN",
    "KIND_LEAVE",
    "KIND_PUB",
    "Message",
    "decode",
    "encode_join_leave",
    "encode_publication",
]

KIND_PUB = "p"
KIND_JOIN = "j"
KIND_LEAVE = "l"

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder()


@dataclass(slots=True)
class Message:
    """One decoded client-channel message: ``pub`` for ``p``, ``info`` for ``j``/``l``."""

    kind: str
    pub: Publication | None = None
    info: ClientInfo | None = None
    use_delta: bool = False


def encode_publication(pub: Publication, use_delta: bool) -> bytes:
    """A publication (P-42) as it travels between nodes; offsets never travel (EN-08)."""
    info = pub.info
    if info is None:
        return _encoder.encode(
            (KIND_PUB, pub.data, None, None, None, None, pub.tags, pub.time, use_delta)
        )
    return _encoder.encode(
        (
            KIND_PUB,
            pub.data,
            info.user,
            info.client,
            info.conn_info,
            info.chan_info,
            pub.tags,
            pub.time,
            use_delta,
        )
    )


def encode_join_leave(kind: str, info: ClientInfo) -> bytes:
    """A join (``"j"``) or leave (``"l"``) message (PR-04)."""
    return _encoder.encode(
        (kind, None, info.user, info.client, info.conn_info, info.chan_info, None, None, None)
    )


def decode(raw: bytes) -> Message:
    """Parse a message; raises ``ValueError`` (or a msgspec error) when it is malformed."""
    kind, data, user, client, conn_info, chan_info, tags, time_ms, delta = _decoder.decode(raw)
    info = None if user is None else ClientInfo(user, client, conn_info, chan_info)
    if kind == KIND_PUB:
        pub = Publication(data=data, info=info, tags=tags, time=time_ms or 0)
        return Message(kind, pub=pub, use_delta=bool(delta))
    if kind in (KIND_JOIN, KIND_LEAVE):
        if info is None:
            raise ValueError("join/leave without client info")
        return Message(kind, info=info)
    raise ValueError(f"unknown message kind {kind!r}")
