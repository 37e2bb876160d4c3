"""What the differential conversations share: the HMAC secret of their tokens, the options of
an open channel, and the config both servers start from."""

from __future__ import annotations

from typing import Any

import jwt
from differential.harness import API_KEY

__all__ = ["OPEN", "SECRET", "config", "connect", "token"]

SECRET = "differential-secret-key-of-32-bytes!"

OPEN: dict[str, Any] = {
    "allow_subscribe_for_client": True,
    "allow_publish_for_client": True,
    "allow_history_for_client": True,
    "allow_presence_for_client": True,
    "history_size": 10,
    "history_ttl": "300s",
    "presence": True,
    "join_leave": True,
    "force_push_join_leave": True,
    "force_recovery": True,
}
"""A channel every connected client may use fully, with history, presence and join/leave."""


def config(
    channel: dict[str, Any] | None = None, client: dict[str, Any] | None = None, **sections: Any
) -> dict[str, Any]:
    """A config with HMAC tokens, the API key, the given channel and client sections."""
    return {
        "client": {"token": {"hmac_secret_key": SECRET}, **(client or {})},
        "http_api": {"key": API_KEY},
        "channel": channel or {"without_namespace": OPEN},
        "log": {"level": "error"},
        **sections,
    }


def token(sub: str = "u1", **claims: Any) -> str:
    return jwt.encode({"sub": sub, **claims}, SECRET, algorithm="HS256")


def connect(id_: int = 1, **claims: Any) -> dict[str, Any]:
    """A connect command with a token for user ``u1`` (and ``claims``)."""
    return {"id": id_, "connect": {"token": token(**claims)}}
