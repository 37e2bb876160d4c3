"""The tutorial's proxy routes (section "Implementing proxy handlers").

The tutorial's ``index`` and ``room`` pages (HTML templates for browsers) are not part of
this project: the clients here are centrifuge-js in Node, which only need Centrifugo.
"""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("centrifugo/connect/", views.connect, name="connect"),
    path("centrifugo/subscribe/", views.subscribe, name="subscribe"),
    path("centrifugo/publish/", views.publish, name="publish"),
]
