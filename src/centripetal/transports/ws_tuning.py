"""The WebSocket buffer keys Centrifugo passes to its WebSocket library, and why they change
nothing here (spec TR-01, TR-06; docs/transports.md).

``read_buffer_size``, ``write_buffer_size`` and ``use_write_buffer_pool`` size the buffers a
Go connection keeps for reading and writing, trading memory per connection against system
calls. A centripetal connection keeps neither buffer: the event loop reads each socket into
one loop-wide buffer (256 KiB a read), and every outgoing frame is built whole and handed to
the socket in one write, with nothing held while the connection is idle — what a write buffer
pool gives a Go server. The keys are accepted, their values reported once at startup.
"""

from __future__ import annotations

import logging
from typing import Protocol

__all__ = ["report_buffer_keys"]

logger = logging.getLogger("centripetal.websocket")

_WHY = {
    "read_buffer_size": "no connection keeps a read buffer: the event loop reads every socket "
    "into one shared buffer of 256 KiB",
    "write_buffer_size": "no connection keeps a write buffer: each frame is built whole and "
    "written at once",
    "use_write_buffer_pool": "no connection holds a write buffer while idle, which is what "
    "the pool is for",
}


class BufferKeys(Protocol):
    read_buffer_size: int
    write_buffer_size: int
    use_write_buffer_pool: bool


def report_buffer_keys(section: BufferKeys, name: str) -> None:
    """One info line per buffer key set in ``section`` (``websocket``, ``uni_websocket``)."""
    for key, why in _WHY.items():
        value = getattr(section, key)
        if value:
            logger.info("%s.%s=%s changes nothing: %s", name, key, value, why)
