"""System checks for the ``CENTRIPETAL`` settings (run by ``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from .conf import get_settings


@checks.register(checks.Tags.security, deploy=True)
def check_centripetal_secrets(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """W001: proxies unprotected without DEBUG; W002: short token secret; E001: bad dict."""
    try:
        conf = get_settings()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="centripetal.E001")]
    found: list[checks.CheckMessage] = []
    if not settings.DEBUG and not conf.PROXY_SECRET:
        found.append(
            checks.Warning(
                "CENTRIPETAL['PROXY_SECRET'] is empty: proxy views accept requests from anyone.",
                hint="Set it and add the same value as a static header to every proxy "
                "(http.static_headers) in the server config.",
                id="centripetal.W001",
            )
        )
    for key in ("TOKEN_HMAC_SECRET", "SUBSCRIPTION_TOKEN_HMAC_SECRET"):
        value = getattr(conf, key)
        if value and len(value) < 32:
            found.append(
                checks.Warning(
                    f"CENTRIPETAL[{key!r}] is shorter than 32 characters.",
                    id="centripetal.W002",
                )
            )
    return found
