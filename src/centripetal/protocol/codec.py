"""The codec interface shared by the JSON and protobuf client protocol codecs (spec §1.1).

A codec turns transport frames into :class:`~centripetal.protocol.messages.Command` lists
(P-02, P-03) and replies/pushes into message bytes; ``frame`` joins already-encoded messages
into one transport frame. Push encoders run once per event and their bytes are shared by every
subscriber (DESIGN §5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from centripetal.engines.base import ClientInfo
from centripetal.protocol.codes import DecodeError
from centripetal.protocol.messages import (
    Command,
    Disconnect,
    Message,
    Push,
    Refresh,
    Reply,
    Subscribe,
    Unsubscribe,
)

__all__ = ["Codec", "DecodeError", "PushEncoders", "get_codec"]


class Codec(Protocol):
    name: str  # "json" | "protobuf"
    binary: bool  # True: binary WebSocket frames (P-04)
    slot: int  # small distinct integer per codec: keys per-codec caches on the fan-out path
    legacy: bool  # True: client protocol v1 (spec §2): client pings, no server pings (L-09)

    def decode_commands(self, frame: bytes, *, max_commands: int = 0) -> list[Command]:
        """All commands of one inbound frame. Raises ``DecodeError`` (-> 3501, P-13) and
        nothing else, whatever ``frame`` holds: malformed or truncated input, nesting too
        deep, integers outside their protobuf type, or more than ``max_commands`` commands
        (0: no limit; counted before any command is decoded, so an over-long frame costs no
        per-command objects)."""
        ...

    def encode_reply(self, reply: Reply) -> bytes:
        """One reply, not framed."""
        ...

    def frame(self, messages: list[bytes]) -> bytes:
        """Join encoded messages into one transport frame (P-02, P-03)."""
        ...

    def frame_one(self, message: bytes) -> bytes: ...

    def ping_message(self) -> bytes:
        """The server ping message (P-25), not framed."""
        ...

    def encode_pub_push(
        self,
        channel: str,
        data: bytes,
        info: ClientInfo | None,
        offset: int,
        tags: dict[str, str] | None,
        delta: bool = False,
        time: int = 0,
        data_as_string: bool = False,
        epoch: str = "",
    ) -> bytes: ...

    def encode_join_push(self, channel: str, info: ClientInfo) -> bytes: ...

    def encode_leave_push(self, channel: str, info: ClientInfo) -> bytes: ...

    def encode_unsubscribe_push(self, channel: str, code: int, reason: str) -> bytes: ...

    def encode_subscribe_push(
        self,
        channel: str,
        recoverable: bool = False,
        epoch: str = "",
        offset: int = 0,
        positioned: bool = False,
        data: bytes = b"",
    ) -> bytes: ...

    def encode_disconnect_push(self, code: int, reason: str) -> bytes: ...

    def encode_refresh_push(self, expires: bool, ttl: int) -> bytes: ...

    def encode_message_push(self, data: bytes) -> bytes: ...

    def close_frame(self, code: int, reason: str) -> tuple[int, str]:
        """The WebSocket close code and reason of a disconnect (D-WS1; v1: L-10)."""
        ...


class PushEncoders:
    """The pushes that are not on the fan-out path, built as ``Push`` messages and encoded by
    the concrete codec's ``encode_push_reply`` (P-44..P-49)."""

    legacy = False  # protocol v2 (the v1 codecs set True, spec §2)
    # each concrete codec binds this to its own encoder of a server-to-client Push
    encode_push_reply: Callable[[Push], bytes]

    def encode_unsubscribe_push(self, channel: str, code: int, reason: str) -> bytes:
        """P-44, TV-08."""
        return self.encode_push_reply(
            Push(channel=channel, unsubscribe=Unsubscribe(code=code, reason=reason))
        )

    def encode_subscribe_push(
        self,
        channel: str,
        recoverable: bool = False,
        epoch: str = "",
        offset: int = 0,
        positioned: bool = False,
        data: bytes = b"",
    ) -> bytes:
        """Server-side subscription push (P-46, TV-08)."""
        sub = Subscribe(
            recoverable=recoverable, epoch=epoch, offset=offset, positioned=positioned, data=data
        )
        return self.encode_push_reply(Push(channel=channel, subscribe=sub))

    def encode_disconnect_push(self, code: int, reason: str) -> bytes:
        """P-48, TV-08 (only for transports without close frames)."""
        return self.encode_push_reply(Push(disconnect=Disconnect(code=code, reason=reason)))

    def encode_refresh_push(self, expires: bool, ttl: int) -> bytes:
        """P-49, TV-08."""
        return self.encode_push_reply(Push(refresh=Refresh(expires=expires, ttl=ttl)))

    def encode_message_push(self, data: bytes) -> bytes:
        """P-45."""
        return self.encode_push_reply(Push(message=Message(data=data)))

    def close_frame(self, code: int, reason: str) -> tuple[int, str]:
        """Protocol v2: close code = disconnect code, plain reason (D-WS1)."""
        return code, reason


_CODECS: dict[str, Codec] = {}  # imported on first use (every connection asks)


def get_codec(name: str) -> Codec:
    """The codec singleton for ``"json"`` or ``"protobuf"`` (P-05, P-06)."""
    codec = _CODECS.get(name)
    if codec is not None:
        return codec
    if name == "json":
        from centripetal.protocol.json_codec import JSON_CODEC

        codec = _CODECS[name] = JSON_CODEC
        return codec
    if name == "protobuf":
        from centripetal.protocol.protobuf_codec import PROTOBUF_CODEC

        codec = _CODECS[name] = PROTOBUF_CODEC
        return codec
    raise ValueError(f"unknown protocol codec {name!r}: expected 'json' or 'protobuf'")
