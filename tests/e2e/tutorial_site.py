"""The tutorial's whole stack on one origin: Django, centripetal and the tutorial's nginx.

Django runs the tutorial project under ``manage.py runserver`` with the page settings;
centripetal starts from the tutorial's ``config.json`` with only the ports, the memory engine
and ``allowed_origins`` (the nginx origin) changed (MG-04, MG-10, MG-15). Every process is
started and stopped by its own pid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from origin_proxy import OriginProxy
from support.server import ServerProcess
from support.tutorial import DjangoProcess
from support.tutorial import tutorial_config as shared_tutorial_config

E2E_DIR = Path(__file__).resolve().parent
TESTS_DIR = E2E_DIR.parent
JS_DIR = TESTS_DIR / "integration" / "js"
CENTRIFUGE_JS_2 = JS_DIR / "node_modules" / "centrifuge2" / "dist" / "centrifuge.min.js"


@dataclass
class TutorialStack:
    """Django, centripetal and nginx, reachable at ``origin``."""

    django: DjangoProcess
    server: ServerProcess
    nginx: OriginProxy

    @property
    def origin(self) -> str:
        return self.nginx.origin

    def url(self, path: str) -> str:
        return self.origin + path

    def describe(self, what: str = "") -> str:
        """``what`` plus the tails of every log, for assertion messages."""
        return self.server.describe(
            f"{what}\n--- nginx ---\n{self.nginx.log_tail()}"
            f"\n--- Django ---\n{self.django.log_tail()}"
        )


def start_django(workdir: Path) -> DjangoProcess:
    """Start the tutorial project; wait until ``/chat/`` answers."""
    try:
        return DjangoProcess.start(workdir, ready_path="/chat/")
    except RuntimeError as exc:
        pytest.fail(str(exc))


def tutorial_config(centrifugo_port: int, django_port: int, origin: str) -> dict[str, Any]:
    """The tutorial's config: its ports moved, memory engine, the test's nginx origin."""
    return shared_tutorial_config(centrifugo_port, django_port, origin=origin)
