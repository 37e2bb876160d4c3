"""Connection and subscription JWTs, HS256 (spec AU-01..AU-20; Centrifugo's claim names).

Connection token claims: ``sub`` (user id), ``exp``, ``iat``, optional ``info``, ``channels``
(server-side subscriptions), ``meta``. Subscription token claims: ``sub``, ``channel``,
``exp``, ``iat``, optional ``info``. Secrets come from :mod:`.conf`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import jwt
from django.core.exceptions import ImproperlyConfigured

from .conf import get_settings

__all__ = ["connection_token", "decode_token", "subscription_token"]

ALGORITHM = "HS256"


def _claims(user: str, ttl: int | None, extra: Mapping[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    lifetime = get_settings().TOKEN_TTL if ttl is None else ttl
    claims: dict[str, Any] = {"sub": str(user), "iat": now}
    if lifetime > 0:
        claims["exp"] = now + lifetime
    claims.update({k: v for k, v in extra.items() if v is not None})
    return claims


def _secret(value: str, key: str) -> str:
    if not value:
        raise ImproperlyConfigured(f"CENTRIPETAL[{key!r}] is empty: cannot sign tokens")
    return value


def connection_token(
    user: str | int,
    *,
    ttl: int | None = None,
    info: Any = None,
    channels: Sequence[str] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> str:
    """A connection JWT for ``user``; ``ttl`` seconds (``0``: no ``exp``; default TOKEN_TTL)."""
    secret = _secret(get_settings().TOKEN_HMAC_SECRET, "TOKEN_HMAC_SECRET")
    claims = _claims(
        str(user),
        ttl,
        {"info": info, "channels": list(channels) if channels else None, "meta": meta},
    )
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def subscription_token(
    user: str | int, channel: str, *, ttl: int | None = None, info: Any = None
) -> str:
    """A subscription JWT binding ``user`` to ``channel`` (P-31 ``token``)."""
    secret = _secret(get_settings().subscription_secret, "SUBSCRIPTION_TOKEN_HMAC_SECRET")
    claims = _claims(str(user), ttl, {"channel": channel, "info": info})
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, subscription: bool = False) -> dict[str, Any]:
    """Verify and decode a token signed by this module (for tests and ``gentoken --check``)."""
    conf = get_settings()
    secret = conf.subscription_secret if subscription else conf.TOKEN_HMAC_SECRET
    decoded: dict[str, Any] = jwt.decode(token, secret, algorithms=[ALGORITHM])
    return decoded
