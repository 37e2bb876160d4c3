"""Root URLconf, as in the tutorial: ``chat/`` includes ``chat.urls``.

The tutorial imports ``include`` from ``django.conf.urls``, which Django 4.0 removed;
``django.urls.include`` is the same function. The admin route is left out (no admin app).
"""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("chat/", include("chat.urls")),
]
