"""Play one scripted conversation against a server and write down everything it answers.

A conversation is a list of steps (``Send`` a WebSocket frame of JSON commands, ``SendPb``
one of protobuf commands, call the server ``Api``, ``Pause``). ``play`` runs it against one
server and returns its transcript: every message received (one entry per JSON line or
protobuf reply of a frame, in order), the close code and reason when the server closes, and
the status and body of every API answer. After each step it reads until
the server has been quiet for ``QUIET`` seconds, so replies and pushes caused by a step are
written down after that step.

``normalise`` replaces what legitimately differs between two servers (client ids, epochs,
node ids, the version string, timestamps, remaining token lifetimes) with stable
placeholders, numbered in order of first appearance, so two transcripts compare with ``==``.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import websockets
from support.server import ServerProcess

__all__ = ["API_KEY", "Api", "Pause", "Send", "SendPb", "Stream", "normalise", "play"]

API_KEY = "differential-api-key"
QUIET = 0.25  # seconds without a message that end a step
STEP_LIMIT = 5.0  # no step reads longer than this


@dataclass(frozen=True)
class Send:
    """One WebSocket frame: the commands as JSON lines (or raw text when ``raw`` is given)."""

    commands: Sequence[dict[str, Any]] = ()
    raw: str | None = None

    def text(self) -> str:
        if self.raw is not None:
            return self.raw
        return "\n".join(json.dumps(c, separators=(",", ":")) for c in self.commands)


@dataclass(frozen=True)
class SendPb:
    """One WebSocket frame of protobuf commands (``?cf_protocol=protobuf``): each command is
    given as its JSON form and encoded as a varint-delimited ``Command``; replies are written
    down in the JSON form of ``Reply`` (proto field names, bytes fields as base64)."""

    commands: Sequence[dict[str, Any]] = ()

    def payload(self) -> bytes:
        from google.protobuf import json_format

        from centripetal.protocol import client_pb2

        out = bytearray()
        for command in self.commands:
            raw = json_format.ParseDict(command, client_pb2.Command()).SerializeToString()
            out += _uvarint(len(raw)) + raw
        return bytes(out)


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _pb_replies(data: bytes) -> list[dict[str, Any]]:
    from google.protobuf import json_format

    from centripetal.protocol import client_pb2

    replies = []
    i = 0
    while i < len(data):
        n = shift = 0
        while True:
            b = data[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        reply = client_pb2.Reply.FromString(data[i : i + n])
        i += n
        replies.append(json_format.MessageToDict(reply, preserving_proto_field_name=True))
    return replies


@dataclass(frozen=True)
class Api:
    """One server API call: ``POST /api/<method>`` (or the legacy ``POST /api`` when
    ``method`` is empty) with ``body`` as given; ``key`` None sends no key."""

    method: str
    body: Any = field(default_factory=dict)
    key: str | None = API_KEY
    raw: bytes | None = None


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Stream:
    """A unidirectional-looking connection of the streaming transports: ``http_stream`` POSTs
    ``command`` as its body, ``sse`` sends it in ``cf_connect``; everything the server streams
    until it is quiet is written down (status, content type, then one entry per message)."""

    transport: str  # "http_stream" or "sse"
    command: dict[str, Any]


Step = Send | SendPb | Api | Pause | Stream


async def _stream(session: aiohttp.ClientSession, server: ServerProcess, step: Stream) -> list[Any]:
    body = json.dumps(step.command)
    if step.transport == "sse":
        url = f"{server.http_url}/connection/sse"
        request = session.get(url, params={"cf_connect": body})
    else:
        url = f"{server.http_url}/connection/http_stream"
        request = session.post(url, data=body.encode())
    out: list[Any] = []
    async with request as resp:
        out.append(("stream", resp.status, resp.headers.get("Content-Type", "").split(";")[0]))
        buffer = b""
        while True:
            try:
                chunk = await asyncio.wait_for(resp.content.readany(), QUIET * 2)
            except TimeoutError:
                break
            if not chunk:
                out.append(("stream closed",))
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                line = line.strip()
                if line.startswith(b"data:"):
                    line = line[5:].strip()
                elif step.transport == "sse":
                    continue  # blank separators, comments
                if line:
                    out.append(("recv", json.loads(line)))
    return out


async def _collect(ws: Any, out: list[Any]) -> bool:
    """Read until quiet; False once the server closed the connection."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_LIMIT
    while loop.time() < deadline:
        try:
            message = await asyncio.wait_for(ws.recv(), QUIET)
        except TimeoutError:
            return True
        except websockets.ConnectionClosed as exc:
            rcvd = exc.rcvd
            out.append(("closed", rcvd.code if rcvd else None, rcvd.reason if rcvd else None))
            return False
        if isinstance(message, bytes):
            out.extend(("recv", reply) for reply in _pb_replies(message))
            continue
        for line in message.split("\n"):
            if line.strip():
                out.append(("recv", json.loads(line)))
    out.append(("still talking after", STEP_LIMIT))
    return True


async def _api(session: aiohttp.ClientSession, server: ServerProcess, step: Api) -> Any:
    url = f"{server.http_url}/api/{step.method}" if step.method else f"{server.http_url}/api"
    headers = {"Content-Type": "application/json"}
    if step.key is not None:
        headers["X-API-Key"] = step.key
    data = step.raw if step.raw is not None else json.dumps(step.body).encode()
    async with session.post(url, data=data, headers=headers) as resp:
        body = await resp.read()
    try:
        parsed: Any = json.loads(body) if body else ""
    except ValueError:
        parsed = body.decode(errors="replace").strip()
    return ("api", resp.status, parsed)


async def play(server: ServerProcess, steps: Sequence[Step]) -> list[Any]:
    """The transcript of ``steps`` against ``server`` (one WebSocket, opened at the first
    ``Send``)."""
    out: list[Any] = []
    ws: Any = None
    open_ = True
    async with aiohttp.ClientSession() as session:
        try:
            for step in steps:
                if isinstance(step, Pause):
                    await asyncio.sleep(step.seconds)
                    continue
                if isinstance(step, Stream):
                    out.extend(await _stream(session, server, step))
                    continue
                if isinstance(step, Api):
                    out.append(await _api(session, server, step))
                elif open_:
                    binary = isinstance(step, SendPb)
                    if ws is None:
                        url = server.ws_url() + ("?cf_protocol=protobuf" if binary else "")
                        ws = await websockets.connect(url, max_size=None)
                    await ws.send(step.payload() if isinstance(step, SendPb) else step.text())
                else:
                    out.append(("not sent: connection closed",))
                    continue
                if ws is not None and open_:
                    open_ = await _collect(ws, out)
        finally:
            if ws is not None:
                await ws.close()
    return out


# -- normalising -----------------------------------------------------------------------------

# keys whose values are generated per server; each distinct value becomes <key#n>
_NUMBERED = ("client", "epoch", "uid", "node", "session")
# keys whose values depend on the clock or the build; they become <key>
_MASKED = ("version", "time", "ttl", "uptime", "expire_at")


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class _Namer:
    def __init__(self) -> None:
        self.names: dict[tuple[str, Any], str] = {}

    def name(self, key: str, value: Any) -> str:
        if (key, value) not in self.names:
            n = sum(1 for k, _ in self.names if k == key) + 1
            self.names[(key, value)] = f"<{key}#{n}>"
        return self.names[(key, value)]

    def walk(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            fields = {k: self._field(k, v) for k, v in value.items()}
            # presence maps are keyed by client id
            return {self._key(k): v for k, v in fields.items()}
        if isinstance(value, list | tuple):
            return [self.walk(v) for v in value]
        return value

    def _key(self, key: str) -> str:
        return self.name("client", key) if _UUID.fullmatch(key) else key

    def _field(self, key: str, value: Any) -> Any:
        if key in _NUMBERED and isinstance(value, str) and value:
            return self.name(key, value)
        if key in _MASKED and value not in (None, "", 0):
            return f"<{key}>"
        return self.walk(value, key)


def normalise(transcript: Sequence[Any]) -> list[Any]:
    """``transcript`` with generated values replaced by numbered placeholders."""
    namer = _Namer()
    return [namer.walk(entry) for entry in transcript]
