"""permessage-deflate on the WebSocket endpoints (RFC 7692; spec TR-01, TR-06: ``compression``,
``compression_min_size``, ``compression_level``, ``decompressed_message_size_limit``).

Theory of operation
-------------------
Negotiated as Centrifugo's WebSocket library negotiates it: only in "no context takeover" mode,
both ways. An offer is answered ``permessage-deflate; server_no_context_takeover;
client_no_context_takeover`` (websockets' ``ServerPerMessageDeflateFactory`` does the
negotiation), so no connection keeps a zlib stream between messages — an idle connection holds
no compressor — and a message compresses to the same bytes for every subscriber: a publication
is compressed once and its frame shared, like the uncompressed ones (frames.py). An offer that
limits the server's window (``server_max_window_bits`` < 15) is declined: that connection runs
uncompressed.

Outgoing: a message longer than ``compression_min_size`` bytes is compressed at
``compression_level`` (1 fastest .. 9 best, 0 none, -1 zlib's default, -2 Huffman only: the range
Centrifugo accepts; anything else is a startup warning and level 1, Centrifugo's default) by
websockets' ``PerMessageDeflate`` extension; a shorter one goes out uncompressed (RSV1 clear),
as RFC 7692 allows per message.

Incoming: the same extension, set on the connection's protocol, inflates compressed client
frames. ``message_size_limit`` bounds the bytes on the wire; ``decompressed_message_size_limit``
(0: ten times ``message_size_limit``, as Centrifugo) bounds one inflated frame; 1009 past
either. A fragmented compressed message counts its inflated fragments against
``message_size_limit``.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from websockets.exceptions import InvalidHandshake
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode
from websockets.headers import build_extension, parse_extension

from centripetal.transports.frames import MAX_MESSAGES_PER_FRAME, FrameWriter, frame_header

if TYPE_CHECKING:
    from centripetal.protocol.codec import Codec
    from centripetal.transports.handshake import UpgradeRequest

__all__ = ["Deflate", "DeflateFrameWriter", "compression_settings"]

logger = logging.getLogger("centripetal.websocket")

DECOMPRESSED_LIMIT_FACTOR = 10  # decompressed_message_size_limit 0: 10 x message_size_limit
DEFAULT_LEVEL = 1
_NAME = "permessage-deflate"
_FULL_WINDOW = 15


def compression_settings(level: int, key: str) -> dict[str, Any]:
    """``zlib.compressobj`` keywords for a Centrifugo ``compression_level``; a level outside
    -2..9 is a warning naming ``key``, and level 1."""
    if level == -2:
        return {"strategy": zlib.Z_HUFFMAN_ONLY}
    if -1 <= level <= 9:
        return {"level": level}
    logger.warning(
        "%s=%d is not a compression level (-2..9); level %d is used",
        key,
        level,
        DEFAULT_LEVEL,
    )
    return {"level": DEFAULT_LEVEL}


class _Inflater(PerMessageDeflate):
    """websockets' extension, with its own bound on an inflated frame
    (``decompressed_message_size_limit``) instead of the wire limit."""

    def __init__(self, negotiated: PerMessageDeflate, inflated_limit: int | None) -> None:
        super().__init__(
            negotiated.remote_no_context_takeover,
            negotiated.local_no_context_takeover,
            negotiated.remote_max_window_bits,
            negotiated.local_max_window_bits,
            negotiated.compress_settings,
        )
        self.inflated_limit = inflated_limit

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        return super().decode(frame, max_size=self.inflated_limit)


@dataclass(frozen=True, slots=True)
class Negotiated:
    """An accepted offer: the response header value and the extension for the protocol."""

    header: str
    extension: PerMessageDeflate


class Deflate:
    """One endpoint's compression settings: negotiation and outgoing frames."""

    def __init__(
        self,
        *,
        level: int,
        min_size: int,
        message_size_limit: int,
        decompressed_limit: int,
        key: str,
    ) -> None:
        settings = compression_settings(level, f"{key}.compression_level")
        self.min_size = max(min_size, 0)
        if decompressed_limit > 0:
            self.inflated_limit: int | None = decompressed_limit
        elif message_size_limit > 0:
            self.inflated_limit = message_size_limit * DECOMPRESSED_LIMIT_FACTOR
        else:
            self.inflated_limit = None
        self.factory = ServerPerMessageDeflateFactory(
            server_no_context_takeover=True,
            client_no_context_takeover=True,
            compress_settings=settings,
        )
        # what compresses outgoing messages: a fresh zlib stream per message, full window
        self.encoder = PerMessageDeflate(True, True, _FULL_WINDOW, _FULL_WINDOW, settings)

    def negotiate(self, request: UpgradeRequest) -> Negotiated | None:
        """The first acceptable ``permessage-deflate`` offer of the handshake, if any."""
        for name, value in request.headers:
            if name.lower() != "sec-websocket-extensions":
                continue
            try:
                offers = parse_extension(value)
            except InvalidHandshake:
                return None  # a malformed header: no compression, as for no offer
            for offered, params in offers:
                if offered != _NAME:
                    continue
                try:
                    response, extension = self.factory.process_request_params(params, [])
                except InvalidHandshake:
                    continue
                if extension.local_max_window_bits != _FULL_WINDOW:
                    continue
                header = build_extension([(extension.name, response)])
                return Negotiated(header, _Inflater(extension, self.inflated_limit))
        return None

    def frame(self, opcode: int, payload: bytes) -> bytes:
        """One unmasked final frame: compressed (RSV1) past ``compression_min_size`` bytes."""
        if len(payload) <= self.min_size:
            return frame_header(opcode, len(payload)) + payload
        return Frame(Opcode(opcode), payload).serialize(mask=False, extensions=[self.encoder])


class DeflateFrameWriter(FrameWriter):
    """The frame writer of the connections that negotiated compression: the same batching
    (frames.py), each frame compressed once and shared like an uncompressed one."""

    def __init__(self, deflate: Deflate) -> None:
        super().__init__()
        self.deflate = deflate

    def single_frame(self, opcode: int, codec: Codec, message: bytes) -> bytes:
        cached = self._cache.get(opcode)
        if cached is not None and cached[0] is message:
            return cached[1]
        frame = self.deflate.frame(opcode, codec.frame_one(message))
        self._cache[opcode] = (message, frame)
        return frame

    def frames(self, opcode: int, codec: Codec, messages: list[bytes]) -> list[bytes]:
        step = MAX_MESSAGES_PER_FRAME
        return [
            self.deflate.frame(opcode, codec.frame(messages[i : i + step]))
            for i in range(0, len(messages), step)
        ]
