"""WebSocket routes, as in the tutorial: ``ws/chat/<room_name>/``."""

from __future__ import annotations

from django.urls import re_path

from bench.channels_app.consumers import ChatConsumer

websocket_urlpatterns = [
    re_path(r"ws/chat/(?P<room_name>\w+)/$", ChatConsumer.as_asgi()),
]
