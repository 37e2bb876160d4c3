"""The ``CENTRIPETAL`` settings dict, read once per settings object.

Keys (all optional; the defaults suit a local development server)::

    CENTRIPETAL = {
        "API_URL": "http://127.0.0.1:8000/api",   # server HTTP API base (cent appends /<method>)
        "API_KEY": "",                             # http_api.key of the server
        "API_TIMEOUT": 3.0,                        # seconds per API call
        "TOKEN_HMAC_SECRET": "",                   # client.token.hmac_secret_key
        "SUBSCRIPTION_TOKEN_HMAC_SECRET": "",      # defaults to TOKEN_HMAC_SECRET
        "TOKEN_TTL": 3600,                         # seconds until a token's exp
        "PROXY_SECRET": "",                        # value of the static proxy header
        "PROXY_SECRET_HEADER": "X-Centripetal-Proxy-Secret",
        "WS_URL": "",                              # full ws(s):// URL for browsers, or "" ...
        "WS_PORT": None,                           # ... and this port on the page's own host
    }

An empty ``PROXY_SECRET`` disables the header check (development only; the ``centripetal.W001``
system check warns when ``DEBUG`` is off).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["CentripetalSettings", "get_settings"]


@dataclass(frozen=True, slots=True)
class CentripetalSettings:
    """Typed view of ``settings.CENTRIPETAL``; see the module docstring for each key."""

    API_URL: str = "http://127.0.0.1:8000/api"
    API_KEY: str = ""
    API_TIMEOUT: float = 3.0
    TOKEN_HMAC_SECRET: str = ""
    SUBSCRIPTION_TOKEN_HMAC_SECRET: str = ""
    TOKEN_TTL: int = 3600
    PROXY_SECRET: str = ""
    PROXY_SECRET_HEADER: str = "X-Centripetal-Proxy-Secret"
    WS_URL: str = ""
    WS_PORT: int | None = None

    @property
    def subscription_secret(self) -> str:
        """The HMAC key for subscription tokens (falls back to the connection token key)."""
        return self.SUBSCRIPTION_TOKEN_HMAC_SECRET or self.TOKEN_HMAC_SECRET

    @property
    def proxy_secret_meta_key(self) -> str:
        """``request.META`` key of the secret header (``X-A-B`` -> ``HTTP_X_A_B``)."""
        return "HTTP_" + self.PROXY_SECRET_HEADER.upper().replace("-", "_")


_KNOWN = {f.name for f in fields(CentripetalSettings)}
_cache: dict[int, CentripetalSettings] = {}


def _build(raw: Any) -> CentripetalSettings:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f"CENTRIPETAL must be a dict, not {type(raw).__name__}")
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise ImproperlyConfigured(
            f"CENTRIPETAL has unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known keys: {', '.join(sorted(_KNOWN))}"
        )
    values = dict(raw)
    if values.get("WS_PORT") is not None:
        values["WS_PORT"] = int(values["WS_PORT"])
    for key in ("API_TIMEOUT",):
        if key in values:
            values[key] = float(values[key])
    if "TOKEN_TTL" in values:
        values["TOKEN_TTL"] = int(values["TOKEN_TTL"])
    return CentripetalSettings(**values)


def get_settings() -> CentripetalSettings:
    """Return the parsed ``CENTRIPETAL`` dict; re-read when the settings dict object changes
    (``override_settings`` in tests)."""
    raw = getattr(django_settings, "CENTRIPETAL", None)
    key = id(raw)
    cached = _cache.get(key)
    if cached is None:
        cached = _build(raw)
        _cache.clear()
        _cache[key] = cached
    return cached
