"""WSGI entry point (``gunicorn chatsite.wsgi``); production settings unless overridden."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings.production")

application = get_wsgi_application()
