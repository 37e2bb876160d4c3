"""Fixtures of the browser tests: the tutorial's stack on one origin, and Chromium.

``tutorial_stack`` starts, for the module, the tutorial's Django project, centripetal from
the tutorial's ``config.json`` and the tutorial's nginx in front of both (``tutorial_site``).
``browser`` is Debian's Chromium driven by Playwright, headless. Every process is stopped by
its own pid. Missing tools fail in CI (DESIGN §7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from origin_proxy import OriginProxy
from playwright.sync_api import Browser
from support.browser import chromium
from support.node_js import ensure_packages
from support.ports import free_port
from support.server import ServerProcess
from tutorial_site import (
    CENTRIFUGE_JS_2,
    TutorialStack,
    start_django,
    tutorial_config,
)


@pytest.fixture(scope="module")
def centrifuge_js_2(require_tool: Callable[[str], str]) -> Path:
    """centrifuge-js 2.8.3's ``dist/centrifuge.min.js`` (``npm ci`` when not installed)."""
    if not CENTRIFUGE_JS_2.exists():
        ensure_packages(require_tool("npm"), "centrifuge2/package.json")
    assert CENTRIFUGE_JS_2.exists(), f"{CENTRIFUGE_JS_2} missing after npm ci"
    return CENTRIFUGE_JS_2


@pytest.fixture(scope="module")
def tutorial_stack(
    require_tool: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TutorialStack]:
    """Django, centripetal (tutorial config) and the tutorial's nginx; stopped in reverse."""
    require_tool("nginx")
    workdir = tmp_path_factory.mktemp("tutorial-stack")
    django = start_django(workdir)
    server: ServerProcess | None = None
    nginx: OriginProxy | None = None
    try:
        nginx_port = free_port()
        origin = f"http://127.0.0.1:{nginx_port}"
        port = free_port()
        server = ServerProcess(
            tutorial_config(port, django.port, origin), port=port, workdir=workdir / "server"
        )
        server.start()
        nginx = OriginProxy(
            ("127.0.0.1", django.port),
            ("127.0.0.1", server.port),
            port=nginx_port,
            workdir=workdir / "nginx",
        )
        nginx.start()
        yield TutorialStack(django, server, nginx)
    finally:
        if nginx is not None:
            nginx.stop()
        if server is not None:
            server.stop()
        django.stop()


@pytest.fixture(scope="module")
def browser(require_tool: Callable[[str], str]) -> Iterator[Browser]:
    """Debian's Chromium, headless, launched through Playwright (never a downloaded build)."""
    with chromium(require_tool("chromium")) as browser:
        yield browser
