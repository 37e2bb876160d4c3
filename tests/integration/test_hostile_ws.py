"""A WebSocket client's budget (transports/websocket.py, dispatch.py; docs/security.md).

Each test replays one finding of an adversarial run: fragment floods, reply amplification,
deep nesting, too many commands, a ping flood, presence after a slow-client disconnect. It
asserts the close code the client gets, the time it takes, and an RSS bound of the server.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from support.hostile import (
    RawWebSocket,
    Record,
    api,
    disconnects,
    parse_frames,
    rss_growth,
    rss_kb,
    tcp_established,
)
from support.server import ServerFactory, ServerProcess
from support.timing import scaled
from websockets.frames import Opcode

KEY = "hostile-key"
CONFIG: dict[str, Any] = {
    "client": {"insecure": True},
    "http_api": {"key": KEY},
    "prometheus": {"enabled": True},
    "channel": {
        "namespaces": [
            {
                "name": "hist",
                "history_size": 100,
                "history_ttl": "300s",
                "allow_history_for_client": True,
            },
            {"name": "pres", "presence": True, "allow_presence_for_client": True},
        ]
    },
}
CONNECT = b'{"id":1,"connect":{}}'


@pytest.fixture
def server(server_factory: ServerFactory) -> ServerProcess:
    return server_factory(CONFIG)


def connected(server: ServerProcess) -> RawWebSocket:
    ws = RawWebSocket(server.port)
    ws.send_text(CONNECT)
    deadline = time.monotonic() + scaled(5)
    while b'"connect"' not in ws.received and time.monotonic() < deadline:
        ws.sock.settimeout(0.2)
        try:
            ws.received += ws.sock.recv(65536)
        except TimeoutError:
            continue
    assert b'"connect"' in ws.received, ws.received
    ws.received = b""
    return ws


def small_receive_buffer(ws: RawWebSocket) -> None:
    """A client that never reads: its kernel takes as little as it can."""
    ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)


# -- 3. fragment floods ------------------------------------------------------------------------


def test_one_byte_fragments_are_cut_off_with_1009_and_memory_stays(
    server: ServerProcess, record_property: Record
) -> None:
    """A 65 KB message as one-byte fragments held ~4 MB per connection (20: +77 MB)."""
    assert server.pid is not None
    before = rss_kb(server.pid)
    sockets = [RawWebSocket(server.port) for _ in range(20)]
    try:
        started = time.monotonic()
        fragment = RawWebSocket.frame(Opcode.CONT, b"x", fin=False)
        for ws in sockets:
            ws.send(RawWebSocket.frame(Opcode.TEXT, b"{", fin=False))
            ws.send(fragment * 65_000)
        growth = rss_growth(record_property, server.pid, before)
        codes = [ws.close_code(5) for ws in sockets]
        record_property("seconds_to_close_all", round(time.monotonic() - started, 3))
    finally:
        for ws in sockets:
            ws.close()
    record_property("connections", len(sockets))
    record_property("close_codes", {code: codes.count(code) for code in set(codes)})
    assert codes == [1009] * 20
    assert growth < 10 * 1024


def test_empty_continuation_frames_count_and_close_the_connection(
    server: ServerProcess, record_property: Record
) -> None:
    """1,000,000 empty continuation frames never counted towards the limit (+8 MB, open)."""
    assert server.pid is not None
    before = rss_kb(server.pid)
    with RawWebSocket(server.port) as ws:
        started = time.monotonic()
        ws.send(RawWebSocket.frame(Opcode.TEXT, b"{", fin=False))
        empty = RawWebSocket.frame(Opcode.CONT, b"", fin=False) * 10_000
        batches = 0
        for _ in range(100):
            if not ws.send(empty):
                break
            batches += 1
        code = ws.close_code(5)
        elapsed = time.monotonic() - started
    record_property("close_code", code)
    record_property("seconds_to_close", round(elapsed, 3))
    record_property("empty_frames_sent", batches * 10_000)
    assert code == 1009
    assert elapsed < scaled(3)
    assert rss_growth(record_property, server.pid, before) < 4 * 1024


# -- 4. reply amplification --------------------------------------------------------------------


def test_replies_over_the_queue_limit_stop_the_frame_with_3008(
    server: ServerProcess, record_property: Record
) -> None:
    """One 57 KB frame of 1,000 ``history`` commands (100 publications of 10 KB each) from a
    client that never reads grew the server by 1,977 MB before the 3008 disconnect."""
    assert server.pid is not None
    for i in range(100):
        data = {"i": i, "pad": "p" * 10_000}
        api(server.port, "publish", {"channel": "hist:big", "data": data}, KEY)
    ws = connected(server)  # it reads nothing until the server has decided
    try:
        before = rss_kb(server.pid)
        frame = b"\n".join(
            b'{"id":%d,"history":{"channel":"hist:big","limit":100}}' % (i + 2) for i in range(1000)
        )
        assert len(frame) < 65536
        ws.send_text(frame)
        time.sleep(scaled(1.5))
        growth = rss_growth(record_property, server.pid, before)
        code = ws.close_code(5)
    finally:
        ws.close()
    record_property("frame_bytes", len(frame))
    record_property("close_code", code)
    assert code == 3008
    # the kernel's socket buffers, ~1 MiB queued in the server, the one reply being built:
    # not 1,000 replies of 1 MB
    assert growth < 40 * 1024
    log = server.log_text()
    assert "Traceback" not in log


# -- 5. deep nesting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        b"[" * 1000 + b"]" * 1000 + b"\n" + CONNECT,
        b'{"id":1,"connect":{"data":' + b"[" * 1000 + b"]" * 1000 + b"}}",
        b'{"id":1,"connect":{"data":' + b"[" * 60_000 + b"}}",
    ],
    ids=["first-line", "in-data", "unterminated-60k"],
)
def test_deep_nesting_is_answered_with_3501_at_once(
    server: ServerProcess, frame: bytes, record_property: Record
) -> None:
    """A 1,000-deep first frame killed the connection's task: no 3501, a valid connect
    behind it never answered, and the stale timer closed it 10 s later (3502)."""
    with RawWebSocket(server.port) as ws:
        started = time.monotonic()
        ws.send_text(frame)
        code = ws.close_code(5)
        elapsed = time.monotonic() - started
    log = server.log_text()
    record_property("close_code", code)
    record_property("seconds_to_close_frame", round(elapsed, 3))
    record_property("tracebacks_in_log", log.count("Traceback"))
    assert code == 3501
    assert elapsed < scaled(1)
    assert "Task exception was never retrieved" not in log and "Traceback" not in log


def test_too_many_commands_in_one_frame_is_3501(
    server: ServerProcess, record_property: Record
) -> None:
    """``client.max_commands_per_frame`` (1024, raised to channel_limit + 64)."""
    ws = connected(server)
    try:
        frame = b"\n".join(b'{"id":%d,"rpc":{"method":"x"}}' % (i + 2) for i in range(1500))
        ws.send_text(frame)
        code = ws.close_code(5)
        record_property("close_code", code)
        assert code == 3501
    finally:
        ws.close()


def test_many_commands_within_the_limit_are_all_answered_in_order(server: ServerProcess) -> None:
    """1,000 commands in one frame are handled in batches, and answered in order (P-20)."""
    ws = connected(server)
    try:
        frame = b"\n".join(
            b'{"id":%d,"presence_stats":{"channel":"pres:x"}}' % (i + 2) for i in range(1000)
        )
        ws.send_text(frame)
        ids: list[int] = []
        deadline = time.monotonic() + scaled(10)
        while len(ids) < 1000 and time.monotonic() < deadline:
            ws.sock.settimeout(1)
            try:
                ws.received += ws.sock.recv(1 << 20)
            except TimeoutError:
                continue
            ids = [
                json.loads(line)["id"]
                for f in parse_frames(ws.received)
                for line in f.data.split(b"\n")
                if line
            ]
    finally:
        ws.close()
    assert ids == list(range(2, 1002))


# -- a client that does not read ----------------------------------------------------------------


def test_ping_flood_from_a_client_that_never_reads_is_cut_off(
    server: ServerProcess, record_property: Record
) -> None:
    """Every ping is answered with a pong; unread pongs count against client.queue_max_size
    like any other data for the client: disconnected with 3008 once they pass it, then the
    socket aborted while the pongs (and the close frame) still pile up unread. The server's
    memory does not follow the 40 MB of pings (it grew with every pong before)."""
    assert server.pid is not None
    ws = connected(server)
    before = rss_kb(server.pid)
    ping = RawWebSocket.frame(Opcode.PING, b"p" * 125) * 1000
    ws.sock.settimeout(scaled(2))
    started = time.monotonic()
    try:
        sent = 0
        for _ in range(300):
            try:
                ws.sock.sendall(ping)
            except OSError:
                break
            sent += 1
        growth = rss_growth(record_property, server.pid, before)
        elapsed = time.monotonic() - started
    finally:
        ws.close()
    slow = disconnects(server.port, 3008)
    record_property("ping_bytes_sent", sent * len(ping))
    record_property("seconds_to_cut_off", round(elapsed, 3))
    record_property("disconnects_3008", slow)
    assert sent < 300  # the connection was dropped during the flood
    assert slow == 1
    assert growth < 16 * 1024
    assert elapsed < scaled(5)


def test_presence_drops_a_slow_client_at_the_3008_decision(
    server_factory: ServerFactory, record_property: Record
) -> None:
    """A client judged slow stayed listed in presence for ~5 s (until its socket closed)."""
    config = {**CONFIG, "client": {"insecure": True, "queue_max_size": 65536}}
    server = server_factory(config)
    ws = connected(server)
    small_receive_buffer(ws)
    try:
        ws.send_text(b'{"id":2,"subscribe":{"channel":"pres:room"}}')
        deadline = time.monotonic() + scaled(5)
        while time.monotonic() < deadline:
            present = api(server.port, "presence", {"channel": "pres:room"}, KEY)["result"]
            if present["presence"]:
                break
            time.sleep(0.05)
        assert present["presence"]
        pad = "q" * 60_000
        gone_at = None
        started = time.monotonic()
        while time.monotonic() - started < scaled(10):
            api(server.port, "publish", {"channel": "pres:room", "data": {"pad": pad}}, KEY)
            result = api(server.port, "presence", {"channel": "pres:room"}, KEY)["result"]
            if not result["presence"]:
                gone_at = time.monotonic()
                break
        assert gone_at is not None, "the slow client was never dropped"
        # the socket still waits (up to 5 s) for a close frame the client never reads, but
        # presence did not wait for it
        still_open = tcp_established(server.port, ws.sock.getsockname()[1])
        record_property("seconds_publishing_until_absent", round(gone_at - started, 3))
        record_property("disconnects_3008", disconnects(server.port, 3008))
        record_property("socket_open_when_absent", still_open)
        assert still_open
    finally:
        ws.close()


# -- a write that cannot complete (D-3009) --------------------------------------------------------

STALL_PAD = "w" * 200_000  # over malloc's mmap threshold: freed frames go back to the system


def subscribed(server: ServerProcess, ws_path: str = "/connection/websocket") -> RawWebSocket:
    """A connected raw client subscribed to ``stall``, with a small receive buffer."""
    ws = connected(server)
    ws.send_text(b'{"id":2,"subscribe":{"channel":"stall"}}')
    deadline = time.monotonic() + scaled(5)
    while b'"id":2' not in ws.received and time.monotonic() < deadline:
        ws.sock.settimeout(0.2)
        try:
            ws.received += ws.sock.recv(65536)
        except TimeoutError:
            continue
    assert b'"id":2' in ws.received, ws.received
    ws.received = b""
    small_receive_buffer(ws)
    return ws


def publish_stall(server: ServerProcess, count: int) -> float:
    """Publish ``count`` 200 KB messages into ``stall``; the time of the first one."""
    first = time.monotonic()
    for i in range(count):
        api(server.port, "publish", {"channel": "stall", "data": {"i": i, "pad": STALL_PAD}}, KEY)
    return first


def wait_closed(server: ServerProcess, ws: RawWebSocket, timeout: float) -> float | None:
    """When the server dropped its side of ``ws`` (without the client reading anything), or
    None if it did not within ``timeout``."""
    client_port = ws.sock.getsockname()[1]
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        if not tcp_established(server.port, client_port):
            return time.monotonic()
        time.sleep(0.02)
    return None


def test_a_write_that_cannot_complete_closes_3009_after_write_timeout(
    server_factory: ServerFactory,
) -> None:
    """D-3009: a subscriber stops reading while 10 MB are published to it (well under its
    ``client.queue_max_size``): the bytes the socket refuses wait ``websocket.write_timeout``
    (2 s here), then the server counts a 3009 disconnect and drops the connection without a
    close frame (it could not pass either). The backlog goes with it: a second stalled client
    reuses that memory instead of adding its own 10 MB (measured while each backlog is held,
    since freed memory need not go back to the system)."""
    config = {
        **CONFIG,
        "client": {"insecure": True, "queue_max_size": 64 << 20},
        "websocket": {"write_timeout": "2s"},
    }
    server = server_factory(config)
    assert server.pid is not None
    baseline = rss_kb(server.pid)
    held: list[int] = []
    for round_ in (1, 2):
        ws = subscribed(server)
        try:
            first = publish_stall(server, 50)
            last = time.monotonic()
            held.append(rss_kb(server.pid))
            closed_at = wait_closed(server, ws, 2 + scaled(4))
            assert closed_at is not None, "the stalled connection was never dropped"
        finally:
            ws.close()
        assert closed_at - first >= 2.0 - 0.1  # not before write_timeout
        # the kernel may still take bytes for a moment after the last publish
        assert closed_at - last < 2.0 + scaled(3)
        assert disconnects(server.port, 3009) == round_
        time.sleep(0.2)
    assert disconnects(server.port, 3008) == 0
    first_round, second_round = held[0] - baseline, held[1] - held[0]
    # 10 MB published, at most a few MB of it in the kernel's socket buffers
    assert first_round > 4 * 1024  # the backlog was really held in the server ...
    assert second_round < first_round / 2  # ... and released with its connection
    assert "Traceback" not in server.log_text()


def test_a_slow_reader_is_not_a_write_timeout(server_factory: ServerFactory) -> None:
    """A client that keeps reading, slower than it is sent to, makes progress on every write:
    its backlog outlives ``write_timeout`` (1 s) several times and it stays connected (only
    ``client.queue_max_size`` bounds it, P-96)."""
    config = {**CONFIG, "client": {"insecure": True, "queue_max_size": 64 << 20}}
    server = server_factory(config)
    ws = subscribed(server)
    try:
        publish_stall(server, 50)
        started = time.monotonic()
        ws.sock.settimeout(1)
        while time.monotonic() - started < scaled(3.5):
            ws.sock.recv(32768)  # ~100 KB/s, far below what is waiting
            time.sleep(0.3)
        client_port = ws.sock.getsockname()[1]
        assert tcp_established(server.port, client_port)
    finally:
        ws.close()
    assert disconnects(server.port, 3009) == 0
    assert disconnects(server.port, 3008) == 0
