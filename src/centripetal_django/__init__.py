"""Django integration for centripetal (and Centrifugo).

A reusable Django app: settings in one ``CENTRIPETAL`` dict (:mod:`.conf`), proxy views that
check a shared secret and speak the proxy JSON (:mod:`.proxy`, spec PX-10..PX-13), connection
and subscription JWTs (:mod:`.tokens`, spec AU-*), a server API client built on ``cent``
(:mod:`.api`) and the ``gentoken`` / ``centripetal_info`` management commands.

Importing this package does not import Django models, so it is safe in settings modules.
"""

from __future__ import annotations

__all__ = ["default_app_config_name"]

default_app_config_name = "centripetal_django.apps.CentripetalConfig"
