"""Server API clients built on ``cent`` (``cent.Client`` / ``cent.AsyncClient``), configured
from :mod:`.conf` (spec API-01..API-20).

``get_client()`` returns one process-wide sync client (thread-safe: ``requests`` sessions are
shared by Django's threads); ``async_client()`` returns a new ``cent.AsyncClient`` to use in an
``async with``-free way and ``close()`` (an aiohttp session belongs to one event loop).
The helpers :func:`publish` and :func:`broadcast` cover the common calls.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import cent

from .conf import get_settings

__all__ = ["async_client", "broadcast", "get_client", "publish", "reset_client"]

_lock = threading.Lock()
_client: cent.Client | None = None
_client_key: tuple[str, str, float] | None = None


def get_client() -> cent.Client:
    """The shared sync client for ``CENTRIPETAL['API_URL']`` / ``['API_KEY']``."""
    global _client, _client_key
    conf = get_settings()
    key = (conf.API_URL, conf.API_KEY, conf.API_TIMEOUT)
    with _lock:
        if _client is None or _client_key != key:
            _client = cent.Client(conf.API_URL, conf.API_KEY, timeout=conf.API_TIMEOUT)
            _client_key = key
        return _client


def reset_client() -> None:
    """Forget the shared client (after changing settings at runtime)."""
    global _client, _client_key
    with _lock:
        _client = None
        _client_key = None


def async_client() -> cent.AsyncClient:
    """A fresh ``cent.AsyncClient``; close its session when done (``await client.close()``)."""
    conf = get_settings()
    return cent.AsyncClient(conf.API_URL, conf.API_KEY, timeout=conf.API_TIMEOUT)


def publish(channel: str, data: Any, *, skip_history: bool | None = None) -> cent.PublishResult:
    """Publish ``data`` into ``channel`` (API ``publish``)."""
    request = cent.PublishRequest(channel=channel, data=data, skip_history=skip_history)
    return get_client().publish(request)


def broadcast(
    channels: Sequence[str], data: Any, *, skip_history: bool | None = None
) -> cent.BroadcastResult:
    """Publish the same ``data`` into every channel of ``channels`` (API ``broadcast``)."""
    request = cent.BroadcastRequest(channels=list(channels), data=data, skip_history=skip_history)
    return get_client().broadcast(request)
