"""Legacy client protocol v1 (Centrifugo v2/v3, centrifuge-js 2.x; spec §2).

The session speaks protocol v2 internally; the codecs here translate v1 frames to and from
v2 messages at the edge, so one session core serves both protocols (L-50..L-59).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from centripetal.protocol.codec import Codec

__all__ = ["get_legacy_codec"]


def get_legacy_codec(name: str) -> Codec:
    """The v1 codec singleton for ``"json"`` or ``"protobuf"`` (L-01, L-15)."""
    if name == "json":
        from centripetal.protocol.v1.json_codec import JSON_V1_CODEC

        return JSON_V1_CODEC
    if name == "protobuf":
        from centripetal.protocol.v1.protobuf_codec import PROTOBUF_V1_CODEC

        return PROTOBUF_V1_CODEC
    raise ValueError(f"unknown protocol codec {name!r}: expected 'json' or 'protobuf'")
