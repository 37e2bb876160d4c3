"""Choosing client protocol v1 or v2 for a connection (spec L-59, L-02, L-15).

``?cf_protocol_version=v1`` forces v1 (``v2`` forces v2). Otherwise the first inbound frame
decides: a first JSON command with ``method`` or ``params`` and no v2 request field is v1; so
is a first protobuf command carrying field 2 or 3 (``method``, ``params``), which v2's
``Command`` reserves. A first command holding nothing but ``id`` is a v1 CONNECT with no
params (``method`` omitted, L-02): in v2 it would be a protocol violation anyway (P-20).
Anything undecodable stays v2, whose decoder then rejects it (3501, P-13): detection never
raises, whatever the first frame holds (nesting too deep, invalid UTF-8, huge numbers).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from centripetal.protocol.codec import Codec
from centripetal.protocol.protobuf_codec import read_uvarint
from centripetal.protocol.v1 import get_legacy_codec

__all__ = ["choose_codec", "forced_version", "is_v1_frame", "is_v1_json", "is_v1_protobuf"]

_V1_JSON_KEYS = frozenset({"id", "method", "params"})


def forced_version(query: Mapping[str, str]) -> str:
    """``"v1"`` or ``"v2"`` when the URL query forces a protocol, else ``""`` (L-59)."""
    value = query.get("cf_protocol_version", "")
    return value if value in ("v1", "v2") else ""


_first_keys = msgspec.json.Decoder(dict[str, msgspec.Raw])  # values skipped, not built


def is_v1_json(frame: bytes) -> bool:
    """Whether the first command of a JSON frame is a v1 command (L-02, L-50); False for
    anything undecodable."""
    try:
        for line in bytes(frame).split(b"\n"):
            if line.strip():
                return _is_v1_command(_first_keys.decode(line))
    except Exception:  # undecodable: v2, whose decoder rejects it (P-13)
        return False
    return False


def _is_v1_command(obj: dict[str, msgspec.Raw]) -> bool:
    if not obj or not set(obj) <= _V1_JSON_KEYS:
        return False
    if "method" in obj or "params" in obj:
        return True
    return bool(msgspec.json.decode(obj["id"]))


def is_v1_protobuf(frame: bytes) -> bool:
    """Whether the first command of a protobuf frame carries only v1 envelope fields (1, 2, 3)
    and is not empty (L-02)."""
    try:
        frame = bytes(frame)
        size, pos = read_uvarint(frame, 0)
        if size > len(frame) - pos:
            return False
        from centripetal.protocol.v1.protobuf_codec import read_fields

        numbers = {number for number, _, _ in read_fields(frame[pos : pos + size])}
    except Exception:  # undecodable: v2, whose decoder rejects it (P-13)
        return False
    return bool(numbers) and numbers <= {1, 2, 3}


def is_v1_frame(frame: bytes, binary: bool) -> bool:
    """Dispatch on the connection's encoding (P-04)."""
    return is_v1_protobuf(frame) if binary else is_v1_json(frame)


def choose_codec(codec: Codec, frame: bytes) -> Codec:
    """The codec for a connection opened with the v2 ``codec`` whose first frame is ``frame``:
    its v1 sibling when the frame is v1 (L-59), else ``codec`` itself. Never raises."""
    try:
        if not codec.legacy and is_v1_frame(frame, codec.binary):
            return get_legacy_codec(codec.name)
    except Exception:  # undecodable: v2, whose decoder rejects it (P-13)
        return codec
    return codec
