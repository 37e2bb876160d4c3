"""Settings of the Django chat tutorial project, reduced to what its proxy views need.

The tutorial's ``INSTALLED_APPS`` lists ``chat`` plus Django's admin, auth, sessions and
so on; the proxy views use none of them, so only ``chat`` is installed and no database is
configured. ``ProxyRequestLog`` (test instrumentation, not tutorial code) records every
request Centrifugo's proxy makes to ``/chat/centrifugo/*``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "tutorial-insecure-test-key-not-for-production"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = ["chat"]

MIDDLEWARE = [
    "mysite.proxy_log.ProxyRequestLog",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]

# The template engine ``django-admin startproject`` writes; the tutorial's index and room
# pages are found through APP_DIRS.
TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

ROOT_URLCONF = "mysite.urls"
WSGI_APPLICATION = "mysite.wsgi.application"
DATABASES: dict[str, Any] = {}
USE_TZ = True

# The views call ``logger.debug(request.body)``: show those lines on the dev server's stderr.
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"chat": {"handlers": ["console"], "level": "DEBUG"}},
}
