"""The real-time server's configuration for this chat, built from the Django settings so both
sides share one set of secrets (spec §12 v6 layout; PX-01..PX-13 for the proxies).

Namespaces:

* ``rooms`` — one channel per room: subscribe and publish proxied to Django, history
  (``history_size``/``history_ttl``) with ``force_recovery`` so reconnecting clients recover
  missed messages, presence and join/leave pushed to every subscriber
  (``force_push_join_leave``) for the online list.
* ``personal`` — ``personal:<user id>``, a server-side subscription given by the connect proxy
  (or the connection JWT ``channels`` claim); clients cannot subscribe to it themselves. It
  keeps a short history so index pages recover room updates after a reconnect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings

from centripetal_django.conf import get_settings

PROXY_TIMEOUT = "5s"


def _proxy(endpoint: str, headers: Sequence[str] = ()) -> dict[str, Any]:
    conf = get_settings()
    proxy: dict[str, Any] = {"endpoint": endpoint, "timeout": PROXY_TIMEOUT}
    if headers:
        proxy["http_headers"] = list(headers)
    if conf.PROXY_SECRET:
        proxy["http"] = {"static_headers": {conf.PROXY_SECRET_HEADER: conf.PROXY_SECRET}}
    return proxy


def build_config(
    django_url: str,
    origins: Sequence[str],
    *,
    redis_url: str | None = None,
    auth: str | None = None,
) -> dict[str, Any]:
    """The config dict: proxies pointing at ``django_url`` (how the real-time server reaches
    Django, normally loopback), ``origins`` allowed for browsers, memory engine unless
    ``redis_url``. ``auth`` defaults to ``CHAT_REALTIME_AUTH``."""
    conf = get_settings()
    mode = auth or settings.CHAT_REALTIME_AUTH
    base = django_url.rstrip("/")
    client: dict[str, Any] = {"allowed_origins": list(origins)}
    if mode == "jwt":
        client["token"] = {"hmac_secret_key": conf.TOKEN_HMAC_SECRET}
    else:
        connect = _proxy(f"{base}/centripetal/proxy/connect/", ["Cookie"])
        client["proxy"] = {"connect": {"enabled": True, **connect}}
    rooms = {
        "name": "rooms",
        "history_size": 500,
        "history_ttl": "24h",
        "force_recovery": True,
        "presence": True,
        "join_leave": True,
        "force_push_join_leave": True,
        "allow_presence_for_subscriber": True,
        "allow_history_for_subscriber": True,
        "subscribe_proxy_enabled": True,
        "publish_proxy_enabled": True,
    }
    personal = {
        "name": "personal",
        "history_size": 100,
        "history_ttl": "1h",
        "force_recovery": True,
    }
    config: dict[str, Any] = {
        "client": client,
        "channel": {
            "proxy": {
                "subscribe": _proxy(f"{base}/centripetal/proxy/subscribe/"),
                "publish": _proxy(f"{base}/centripetal/proxy/publish/"),
            },
            "namespaces": [rooms, personal],
        },
        "http_api": {"key": conf.API_KEY},
        "engine": {"type": "memory"},
    }
    if redis_url:
        config["engine"] = {"type": "redis", "redis": {"address": [redis_url]}}
    return config
