"""Drive ``ClientSession`` with no sockets: a recording sink, a real node on the memory engine."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt

from centripetal.config import config_from_mapping
from centripetal.core.session import ClientSession
from centripetal.node import Node
from centripetal.protocol.codec import get_codec

SECRET = "secret"


def token(sub: str = "42", **claims: Any) -> str:
    return jwt.encode({"sub": sub, **claims}, SECRET, algorithm="HS256")


def sub_token(channel: str, sub: str = "42", **claims: Any) -> str:
    return jwt.encode({"sub": sub, "channel": channel, **claims}, SECRET, algorithm="HS256")


class RecordingSink:
    """Keeps every queued message and the close request."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    def enqueue(self, message: bytes) -> None:
        self.messages.append(message)

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def json(self) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.messages]

    def take(self) -> list[dict[str, Any]]:
        out = self.json()
        self.messages.clear()
        return out


BASE: dict[str, Any] = {
    "client": {"token": {"hmac_secret_key": SECRET}},
    "channel": {
        "without_namespace": {
            "presence": True,
            "join_leave": True,
            "force_push_join_leave": True,
            "history_size": 10,
            "history_ttl": "300s",
            "force_recovery": True,
            "allow_publish_for_subscriber": True,
            "allow_presence_for_subscriber": True,
            "allow_history_for_subscriber": True,
            "allowed_delta_types": ["fossil"],
        },
        "namespaces": [
            {"name": "open", "allow_subscribe_for_client": True, "allow_publish_for_client": True},
            {"name": "closed"},
        ],
    },
}


def make_node(overrides: dict[str, Any] | None = None) -> Node:
    cfg = json.loads(json.dumps(BASE))
    for key, value in (overrides or {}).items():
        section = cfg
        parts = key.split(".")
        for p in parts[:-1]:
            section = section.setdefault(p, {})
        section[parts[-1]] = value
    return Node(config_from_mapping(cfg))


class Client:
    """One JSON session with helpers to send commands and read what came back."""

    def __init__(self, node: Node, *, binary: bool = False) -> None:
        self.sink = RecordingSink()
        self.codec = get_codec("protobuf" if binary else "json")
        self.session = ClientSession(node, self.sink, self.codec)
        self._id = 0

    async def send(self, frame: str) -> list[dict[str, Any]]:
        await self.session.handle_commands(self.codec.decode_commands(frame.encode()))
        return self.sink.take()

    async def cmd(self, **command: Any) -> dict[str, Any]:
        """Send one command with the next id; return its reply (pushes are kept aside)."""
        self._id += 1
        out = await self.send(json.dumps({"id": self._id, **command}))
        replies = [m for m in out if m.get("id") == self._id]
        self.pushes = [m for m in out if "id" not in m]
        assert len(replies) == 1, out
        return replies[0]

    async def connect(self, tok: str | None = None, **fields: Any) -> dict[str, Any]:
        req: dict[str, Any] = dict(fields)
        if tok is not None:
            req["token"] = tok
        return await self.cmd(connect=req)


def now() -> int:
    return int(time.time())
