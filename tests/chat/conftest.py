"""Fixtures of the chat tests.

Django is configured in-process here (``chatsite.settings.dev`` from ``examples/chat``) so
pytest-django's ``db``/``client`` fixtures work for the view and proxy tests, without setting
``DJANGO_SETTINGS_MODULE`` for the rest of the suite or for child processes. The browser tests
run Django as a child process instead (:mod:`chat_stack`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHAT_DIR = REPO / "examples" / "chat"
if str(CHAT_DIR) not in sys.path:
    sys.path.insert(0, str(CHAT_DIR))


def _configure_django() -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    previous = os.environ.get("DJANGO_SETTINGS_MODULE")
    os.environ["DJANGO_SETTINGS_MODULE"] = "chatsite.settings.dev"
    try:
        django.setup()
        # Fast hashing for the in-process tests (the child-process servers keep the defaults).
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    finally:
        if previous is None:
            del os.environ["DJANGO_SETTINGS_MODULE"]
        else:
            os.environ["DJANGO_SETTINGS_MODULE"] = previous


_configure_django()

from playwright.sync_api import Browser  # noqa: E402
from support.browser import chromium  # noqa: E402
from support.server import ServerProcess  # noqa: E402


@pytest.fixture
def realtime_server(
    server_factory: Callable[..., ServerProcess], settings: Any
) -> Iterator[ServerProcess]:
    """A centripetal server with the chat's config (no Django behind its proxies), and
    ``settings.CENTRIPETAL`` pointed at its API; notifications are sent synchronously."""
    from chat.realtime_config import build_config

    server = server_factory(build_config("http://127.0.0.1:9", ["http://testserver"]))
    settings.CENTRIPETAL = {**settings.CENTRIPETAL, "API_URL": server.http_url + "/api"}
    settings.CHAT_NOTIFY_IN_BACKGROUND = False
    yield server


@pytest.fixture(autouse=True)
def _sync_notifications(settings: Any) -> None:
    """In-process tests send notifications inline (a dead API URL only logs an error)."""
    settings.CHAT_NOTIFY_IN_BACKGROUND = False
    settings.CENTRIPETAL = {**settings.CENTRIPETAL, "API_URL": "http://127.0.0.1:9/api"}


@pytest.fixture(scope="module")
def browser(require_tool: Callable[[str], str]) -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright."""
    with chromium(require_tool("chromium")) as browser:
        yield browser
