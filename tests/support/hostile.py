"""Tools of the hostile-input tests: raw sockets that misbehave, and the server's memory.

``RawConnection`` sends exactly the bytes a test gives it and reads whatever comes back until
the server closes; ``rss_kb`` reads a process's resident memory from ``/proc``. The tests
record what they measured (answer, seconds, bytes, memory) with pytest's ``record_property``,
so a ``--junitxml`` report carries the figures behind each assertion; ``rss_growth`` records
the memory figures in one shape.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.frames import Frame, Opcode

from support.timing import scaled

__all__ = [
    "RawConnection",
    "RawWebSocket",
    "Record",
    "api",
    "disconnects",
    "parse_frames",
    "rss_growth",
    "rss_kb",
    "status_of",
    "tcp_established",
]


def rss_kb(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` of ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


Record = Callable[[str, object], None]
"""pytest's ``record_property``: one named figure in the test's junit XML properties."""


def rss_growth(record: Record, pid: int, before: int) -> int:
    """How much ``pid``'s resident memory grew since ``before`` (KiB), recorded as
    ``rss_before_kib``, ``rss_after_kib`` and ``rss_growth_kib``."""
    after = rss_kb(pid)
    record("rss_before_kib", before)
    record("rss_after_kib", after)
    record("rss_growth_kib", after - before)
    return after - before


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


_UPGRADE = (
    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


class RawWebSocket(RawConnection):
    """A WebSocket client that sends any frame sequence (masked, as clients must), built with
    websockets' frame serialiser; replies are parsed only when the test asks for them."""

    def __init__(
        self,
        port: int,
        path: str = "/connection/websocket",
        *,
        extra_headers: str = "",
        **kw: float,
    ) -> None:
        super().__init__(port, **kw)
        upgrade = _UPGRADE.format(path=path)
        self.send((upgrade[:-2] + extra_headers + "\r\n").encode())
        head = self.read_response()
        if not head.startswith(b"HTTP/1.1 101 "):
            raise AssertionError(f"no upgrade: {head[:200]!r}")
        self.head, _, self.received = head.partition(b"\r\n\r\n")

    @staticmethod
    def frame(opcode: Opcode, data: bytes = b"", *, fin: bool = True) -> bytes:
        return Frame(opcode, data, fin).serialize(mask=True)

    def send_text(self, data: bytes) -> bool:
        return self.send(self.frame(Opcode.TEXT, data))

    def frames(self, timeout: float = 5.0) -> list[Frame]:
        """Read until the server closes or ``timeout``, then parse every frame received."""
        self.read_until_closed(timeout)
        return parse_frames(self.received)

    def close_code(self, timeout: float = 5.0) -> int | None:
        """The code of the server's close frame, reading until it comes or ``timeout``."""
        deadline = time.monotonic() + scaled(timeout)
        while True:
            for frame in parse_frames(self.received):
                if frame.opcode is Opcode.CLOSE:
                    return int.from_bytes(frame.data[:2], "big") if frame.data else 1005
            left = deadline - time.monotonic()
            if left <= 0 or self.closed_by_peer:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            except OSError:
                self.closed_by_peer = True
                continue
            if not chunk:
                self.closed_by_peer = True
            self.received += chunk


def parse_frames(data: bytes) -> list[Frame]:
    """Every whole server frame in ``data`` (unmasked, RFC 6455 §5.2)."""
    frames: list[Frame] = []
    pos = 0
    while len(data) - pos >= 2:
        first, second = data[pos], data[pos + 1]
        length = second & 0x7F
        at = pos + 2
        if length == 126:
            if len(data) - at < 2:
                break
            length = int.from_bytes(data[at : at + 2], "big")
            at += 2
        elif length == 127:
            if len(data) - at < 8:
                break
            length = int.from_bytes(data[at : at + 8], "big")
            at += 8
        if len(data) - at < length:
            break
        frames.append(
            Frame(
                Opcode(first & 0x0F),
                data[at : at + length],
                bool(first & 0x80),
                rsv1=bool(first & 0x40),  # a compressed message (RFC 7692)
            )
        )
        pos = at + length
    return frames


def api(port: int, method: str, body: dict[str, Any], key: str) -> dict[str, Any]:
    """One server API call (``POST /api/<method>``); the decoded JSON answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(10))
    try:
        payload = json.dumps(body).encode()
        conn.request("POST", f"/api/{method}", payload, {"X-API-Key": key})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise AssertionError(f"{method}: HTTP {response.status} {data[:200]!r}")
        answer: dict[str, Any] = json.loads(data)
        return answer
    finally:
        conn.close()


def tcp_established(local_port: int, remote_port: int) -> bool:
    """Whether a loopback TCP connection from ``local_port`` to ``remote_port`` is still
    established on this machine (``/proc/net/tcp``: the server's side of a client socket)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, state = fields[1], fields[2], fields[3]
                if (
                    int(local.rsplit(":", 1)[1], 16) == local_port
                    and int(remote.rsplit(":", 1)[1], 16) == remote_port
                    and state == "01"
                ):
                    return True
    return False


def disconnects(port: int, code: int) -> int:
    """How many times the server disconnected a client with ``code`` (its Prometheus
    ``centrifugo_client_num_server_disconnects`` counter; ``prometheus.enabled`` needed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(10))
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    wanted = f'centrifugo_client_num_server_disconnects_total{{code="{code}"}}'
    for line in text.splitlines():
        if line.startswith(wanted):
            return int(float(line.split()[-1]))
    return 0
