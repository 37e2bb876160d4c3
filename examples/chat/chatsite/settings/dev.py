"""Development settings (``make run``): SQLite, DEBUG, fixed local secrets.

Environment: ``CHAT_DB_PATH`` (SQLite file), ``CENTRIPETAL_PORT`` (the real-time server's port
on the same host as the page), ``CENTRIPETAL_API_URL``, ``CHAT_REALTIME_AUTH``.
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import *  # noqa: F403
from .base import BASE_DIR

DEBUG = True
SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(os.environ.get("CHAT_DB_PATH", BASE_DIR / "db.sqlite3")),
    }
}

_CENTRIPETAL_PORT = int(os.environ.get("CENTRIPETAL_PORT", "8001"))
CENTRIPETAL = {
    "API_URL": os.environ.get("CENTRIPETAL_API_URL", f"http://127.0.0.1:{_CENTRIPETAL_PORT}/api"),
    "API_KEY": "dev-api-key",
    "TOKEN_HMAC_SECRET": "dev-token-secret-not-for-production-0123456789",
    "PROXY_SECRET": "dev-proxy-secret",
    "WS_PORT": _CENTRIPETAL_PORT,
}
