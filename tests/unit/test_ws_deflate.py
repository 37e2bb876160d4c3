"""permessage-deflate negotiation and frames with no sockets (transports/deflate.py; spec TR-01,
TR-06; RFC 7692)."""

from __future__ import annotations

import logging
import zlib

import pytest
from websockets.exceptions import PayloadTooBig
from websockets.frames import Frame, Opcode

from centripetal.transports.deflate import Deflate, compression_settings
from centripetal.transports.handshake import UpgradeRequest

AGREED = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"


def deflate(**kw: int) -> Deflate:
    options = {
        "level": 1,
        "min_size": 0,
        "message_size_limit": 65536,
        "decompressed_limit": 0,
        **kw,
    }
    return Deflate(key="websocket", **options)


def request(*offers: str) -> UpgradeRequest:
    return UpgradeRequest("/", "", [("Sec-WebSocket-Extensions", offer) for offer in offers])


@pytest.mark.parametrize(
    ("offers", "agreed"),
    [
        (("permessage-deflate",), AGREED),
        (("permessage-deflate; client_max_window_bits",), AGREED),
        (("x-webkit-deflate-frame", "permessage-deflate"), AGREED),  # the first one we know
        (("permessage-deflate; server_max_window_bits=10, permessage-deflate",), AGREED),
        (("permessage-deflate; server_max_window_bits=10",), None),  # a smaller window
        (("permessage-deflate; unknown_param",), None),  # not a valid offer
        (("permessage-deflate; ;;",), None),  # malformed header
        ((), None),
    ],
)
def test_offers_are_answered_without_context_takeover(
    offers: tuple[str, ...], agreed: str | None
) -> None:
    negotiated = deflate().negotiate(request(*offers))
    assert (negotiated.header if negotiated else None) == agreed


def test_frames_compressed_past_min_size_only() -> None:
    d = deflate(min_size=10, level=6)
    short = d.frame(0x1, b"0123456789")
    assert short == bytes((0x81, 10)) + b"0123456789"  # RSV1 clear, as is
    payload = b"abcdefghij" * 100
    long = d.frame(0x1, payload)
    assert long[0] == 0xC1  # FIN + RSV1 + text
    body = long[2:] if long[1] < 126 else long[4:]
    assert zlib.decompressobj(-15).decompress(body + b"\x00\x00\xff\xff") == payload
    assert d.frame(0x1, payload) == long  # no context kept: the same bytes every time


def test_inflated_frames_are_bounded_by_the_decompressed_limit() -> None:
    negotiated = deflate(decompressed_limit=1000).negotiate(request("permessage-deflate"))
    assert negotiated is not None
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    data = compressor.compress(b"a" * 1001) + compressor.flush(zlib.Z_SYNC_FLUSH)
    frame = Frame(Opcode.TEXT, data[:-4], rsv1=True)
    with pytest.raises(PayloadTooBig):
        negotiated.extension.decode(frame, max_size=65536)
    default = deflate(message_size_limit=100).negotiate(request("permessage-deflate"))
    assert default is not None
    compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
    data = compressor.compress(b"b" * 1000) + compressor.flush(zlib.Z_SYNC_FLUSH)
    out = default.extension.decode(Frame(Opcode.TEXT, data[:-4], rsv1=True), max_size=100)
    assert out.data == b"b" * 1000  # 10 x message_size_limit, not the wire limit


def test_compression_levels(caplog: pytest.LogCaptureFixture) -> None:
    assert compression_settings(9, "k") == {"level": 9}
    assert compression_settings(0, "k") == {"level": 0}
    assert compression_settings(-1, "k") == {"level": -1}
    assert compression_settings(-2, "k") == {"strategy": zlib.Z_HUFFMAN_ONLY}
    with caplog.at_level(logging.WARNING, logger="centripetal.websocket"):
        assert compression_settings(10, "websocket.compression_level") == {"level": 1}
    assert "websocket.compression_level=10 is not a compression level (-2..9)" in caplog.text
