"""HTTP routes of the comparison project."""

from __future__ import annotations

from django.urls import path

from bench.channels_app.views import publish

urlpatterns = [path("publish/", publish)]
