"""The tutorial's routes: the ``index`` and ``room`` pages (sections "Add the index view" and
"Add the room view") and the proxy endpoints (section "Implementing proxy handlers").

The ``room`` pattern is the tutorial's, unanchored, with its ``A-z`` range as written.
"""

from __future__ import annotations

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("", views.index, name="index"),
    re_path("room/(?P<room_name>[A-z0-9_-]+)/", views.room, name="room"),
    path("centrifugo/connect/", views.connect, name="connect"),
    path("centrifugo/subscribe/", views.subscribe, name="subscribe"),
    path("centrifugo/publish/", views.publish, name="publish"),
]
