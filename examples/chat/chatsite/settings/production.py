"""Production settings: everything secret or site-specific comes from the environment.

Required: ``DJANGO_SECRET_KEY``, ``DJANGO_ALLOWED_HOSTS`` (comma-separated),
``CENTRIPETAL_API_KEY``, ``CENTRIPETAL_PROXY_SECRET``. Optional: ``CHAT_DB_PATH``,
``CENTRIPETAL_API_URL`` (default ``http://127.0.0.1:8001/api``), ``CENTRIPETAL_TOKEN_SECRET``
(JWT mode), ``DJANGO_CSRF_TRUSTED_ORIGINS``, ``CHAT_PLAIN_HTTP=1`` (only for a loopback test
deployment without TLS: turns the HTTPS-only settings off).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import BASE_DIR


def _require(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(f"environment variable {name} is required in production")
    return value


DEBUG = False
SECRET_KEY = _require("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = [h.strip() for h in _require("DJANGO_ALLOWED_HOSTS").split(",") if h.strip()]
# The real-time server calls the proxy views on loopback (Host: 127.0.0.1:<port>).
ALLOWED_HOSTS += [h for h in ("127.0.0.1", "localhost") if h not in ALLOWED_HOSTS]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(os.environ.get("CHAT_DB_PATH", BASE_DIR / "db.sqlite3")),
    }
}

CENTRIPETAL = {
    "API_URL": os.environ.get("CENTRIPETAL_API_URL", "http://127.0.0.1:8001/api"),
    "API_KEY": _require("CENTRIPETAL_API_KEY"),
    "TOKEN_HMAC_SECRET": os.environ.get("CENTRIPETAL_TOKEN_SECRET", ""),
    "PROXY_SECRET": _require("CENTRIPETAL_PROXY_SECRET"),
    "WS_URL": "",  # one origin behind nginx: the page connects to /connection/websocket
}

_PLAIN_HTTP = os.environ.get("CHAT_PLAIN_HTTP", "") == "1"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = not _PLAIN_HTTP
SESSION_COOKIE_SECURE = not _PLAIN_HTTP
CSRF_COOKIE_SECURE = not _PLAIN_HTTP
SECURE_HSTS_SECONDS = 0 if _PLAIN_HTTP else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not _PLAIN_HTTP
SECURE_HSTS_PRELOAD = not _PLAIN_HTTP
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# The nginx recipe answers the proxy paths only from loopback; health checks use plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^centripetal/proxy/"]
