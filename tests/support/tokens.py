"""HS256 JWTs as the official SDK examples build them (AU-02, AU-20)."""

from __future__ import annotations

import time
from typing import Any

import jwt

__all__ = ["connection_token", "subscription_token"]


def connection_token(
    secret: str,
    sub: str,
    *,
    ttl: float | None = 3600.0,
    **claims: Any,
) -> str:
    """A connection JWT with ``sub`` and optional extra claims (``channels``, ``info``...)."""
    payload: dict[str, Any] = {"sub": sub, **claims}
    if ttl is not None:
        payload["exp"] = int(time.time() + ttl)
    return jwt.encode(payload, secret, algorithm="HS256")


def subscription_token(
    secret: str,
    sub: str,
    channel: str,
    *,
    ttl: float | None = 3600.0,
    **claims: Any,
) -> str:
    """A subscription JWT for ``channel`` (AU-20: ``channel`` claim is required)."""
    payload: dict[str, Any] = {"sub": sub, "channel": channel, **claims}
    if ttl is not None:
        payload["exp"] = int(time.time() + ttl)
    return jwt.encode(payload, secret, algorithm="HS256")
