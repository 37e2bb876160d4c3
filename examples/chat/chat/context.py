"""Template context: how the page reaches the real-time server."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from centripetal_django.conf import get_settings


def realtime(request: HttpRequest) -> dict[str, Any]:
    """``realtime`` for ``json_script``: the user, ws URL or port, auth mode."""
    conf = get_settings()
    user = getattr(request, "user", None)
    me = None
    if user is not None and user.is_authenticated:
        me = {"id": user.pk, "username": user.get_username()}
    return {
        "realtime": {
            "me": me,
            "wsUrl": conf.WS_URL,
            "wsPort": conf.WS_PORT,
            "auth": settings.CHAT_REALTIME_AUTH,
            "maxLength": settings.CHAT_MESSAGE_MAX_LENGTH,
        }
    }
