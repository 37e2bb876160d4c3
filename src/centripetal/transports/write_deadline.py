"""How much of a connection's output the peer has taken: the progress test of the WebSocket
write deadline (``websocket.write_timeout``, ``uni_websocket.write_timeout``; spec D-3009, TR-01,
TR-06).

Centrifugo gives every socket write a deadline of ``write_timeout`` (1 s): a write that misses it
fails and the client is closed with 3009 ("write error"). Here writes never block, asyncio keeps
what the socket refuses in the transport's buffer, so the deadline is kept by the connection
(``FramedConnection`` in websocket.py): while bytes wait in that buffer, every ``write_timeout``
the socket must have delivered something since the last look. ``delivered`` says how much:
on Linux the bytes the peer acknowledged (``TCP_INFO`` ``tcpi_bytes_acked``), so a client that
reads, however slowly, is not cut off (``client.queue_max_size``, 3008, bounds its backlog)
while one that stopped reading is. Without ``TCP_INFO`` the buffer must have shrunk instead.
"""

from __future__ import annotations

import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

__all__ = ["delivered"]

_TCP_INFO = getattr(socket, "TCP_INFO", None)
_TCP_INFO_SIZE = 256
_BYTES_ACKED = slice(120, 128)  # struct tcp_info: __u64 tcpi_bytes_acked (Linux >= 4.1)


def _bytes_acked(transport: asyncio.BaseTransport) -> int | None:
    if _TCP_INFO is None:
        return None
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _TCP_INFO_SIZE)
    except (OSError, ValueError):
        return None
    if len(info) < _BYTES_ACKED.stop:
        return None
    return int.from_bytes(info[_BYTES_ACKED], sys.byteorder)


def delivered(transport: asyncio.WriteTransport) -> int:
    """A number that grows when the peer takes bytes of this connection: the bytes it
    acknowledged, or else minus the bytes still waiting in the transport."""
    acked = _bytes_acked(transport)
    if acked is not None:
        return acked
    return -transport.get_write_buffer_size()
