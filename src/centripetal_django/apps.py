"""The Django app config: registers the configuration checks of :mod:`.checks`."""

from __future__ import annotations

from django.apps import AppConfig


class CentripetalConfig(AppConfig):
    """``INSTALLED_APPS += ["centripetal_django"]``."""

    name = "centripetal_django"
    verbose_name = "centripetal"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
