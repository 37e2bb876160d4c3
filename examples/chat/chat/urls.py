"""Chat URLs. The proxy endpoints live under ``centripetal/proxy/``: the nginx recipe answers
them only from loopback, and they require the shared secret header."""

from __future__ import annotations

from django.urls import path

from . import realtime, views

urlpatterns = [
    path("", views.index, name="index"),
    path("signup/", views.signup, name="signup"),
    path("rooms.json", views.rooms_json, name="rooms_json"),
    path("rooms/<slug:slug>/", views.room, name="room"),
    path("rooms/<slug:slug>/messages/", views.room_messages, name="room_messages"),
    path("rooms/<slug:slug>/join/", views.room_join, name="room_join"),
    path("rooms/<slug:slug>/leave/", views.room_leave, name="room_leave"),
    path("rooms/<slug:slug>/read/", views.room_read, name="room_read"),
    path("centripetal/proxy/connect/", realtime.connect, name="proxy_connect"),
    path("centripetal/proxy/subscribe/", realtime.subscribe, name="proxy_subscribe"),
    path("centripetal/proxy/publish/", realtime.publish, name="proxy_publish"),
    path("centripetal/token/connection/", realtime.token_connection, name="token_connection"),
    path("centripetal/token/subscription/", realtime.token_subscription, name="token_subscription"),
]
