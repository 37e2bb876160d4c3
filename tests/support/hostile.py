"""Tools of the hostile-input tests: raw sockets that misbehave, and the server's memory.

``RawConnection`` sends exactly the bytes a test gives it and reads whatever comes back until
the server closes; ``rss_kb`` reads a process's resident memory from ``/proc``.
"""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path

from support.timing import scaled

__all__ = ["RawConnection", "rss_kb", "status_of"]


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` of ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP response (0 when there is none)."""
    if not response.startswith((b"HTTP/1.1 ", b"HTTP/1.0 ")):
        return 0
    return int(response[9:12])


class RawConnection:
    """One TCP connection to ``127.0.0.1:port`` that sends what it is told."""

    def __init__(self, port: int, *, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=scaled(timeout))
        self.received = b""
        self.closed_by_peer = False

    def send(self, data: bytes) -> bool:
        """Send ``data``; False when the server has closed the connection meanwhile."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def read_until_closed(self, timeout: float) -> float:
        """Read until the server closes (EOF or reset) or ``timeout`` passes; return the
        seconds waited. ``closed_by_peer`` tells which."""
        started = time.monotonic()
        deadline = started + scaled(timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return time.monotonic() - started
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return time.monotonic() - started
            except OSError:  # reset by the server
                self.closed_by_peer = True
                return time.monotonic() - started
            if not chunk:
                self.closed_by_peer = True
                return time.monotonic() - started
            self.received += chunk

    def read_response(self, timeout: float = 5.0) -> bytes:
        """Read until one whole response (head and Content-Length body) or the close."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            head, sep, body = self.received.partition(b"\r\n\r\n")
            if sep:
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if len(body) >= length:
                    return self.received
            left = deadline - time.monotonic()
            if left <= 0:
                return self.received
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (TimeoutError, OSError):
                return self.received
            if not chunk:
                self.closed_by_peer = True
                return self.received
            self.received += chunk

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
