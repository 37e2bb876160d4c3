"""The tutorial's whole stack on one origin: Django, centripetal and the tutorial's nginx.

Django runs the tutorial project under ``manage.py runserver`` with the page settings;
centripetal starts from the tutorial's ``config.json`` with only the ports, the memory engine
and ``allowed_origins`` (the nginx origin) changed (MG-04, MG-10, MG-15). Every process is
started and stopped by its own pid.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from origin_proxy import OriginProxy
from support.ports import free_port, port_accepts
from support.server import ServerProcess
from support.timing import scaled

E2E_DIR = Path(__file__).resolve().parent
TESTS_DIR = E2E_DIR.parent
DJANGO_DIR = TESTS_DIR / "integration" / "tutorial"
JS_DIR = TESTS_DIR / "integration" / "js"
CENTRIFUGE_JS_2 = JS_DIR / "node_modules" / "centrifuge2" / "dist" / "centrifuge.min.js"
SETTINGS_MODULE = "mysite.settings"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The tutorial's config.json ("Starting Centrifugo server"), as printed there.
TUTORIAL_CONFIG_JSON = """
{
    "port": 8001,
    "engine": "redis",
    "redis_address": "redis://localhost:6379",
    "allowed_origins": "http://localhost:9000",
    "proxy_connect_endpoint": "http://localhost:8000/chat/centrifugo/connect/",
    "proxy_publish_endpoint": "http://localhost:8000/chat/centrifugo/publish/",
    "proxy_subscribe_endpoint": "http://localhost:8000/chat/centrifugo/subscribe/",
    "proxy_http_headers": ["Cookie"],
    "namespaces": [
        {
            "name": "rooms",
            "publish": true,
            "proxy_publish": true,
            "proxy_subscribe": true
        }
    ]
}
"""


def tutorial_config(centrifugo_port: int, django_port: int, origin: str) -> dict[str, Any]:
    """The tutorial's config: its ports moved, memory engine, the test's nginx origin."""
    config: dict[str, Any] = json.loads(TUTORIAL_CONFIG_JSON)
    config["port"] = centrifugo_port
    config["engine"] = "memory"
    del config["redis_address"]
    config["allowed_origins"] = origin
    for key in ("proxy_connect_endpoint", "proxy_publish_endpoint", "proxy_subscribe_endpoint"):
        config[key] = config[key].replace("localhost:8000", f"localhost:{django_port}")
    return config


@dataclass
class DjangoProcess:
    """``manage.py runserver`` of the tutorial project; ``records()`` reads its proxy log."""

    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    proxy_log: Path

    def records(self) -> list[dict[str, Any]]:
        if not self.proxy_log.exists():
            return []
        lines = self.proxy_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=scaled(10))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=scaled(10))


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


def _django_answers(port: int) -> bool:
    if not port_accepts("127.0.0.1", port):
        return False
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(2))
    try:
        conn.request("GET", "/chat/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def start_django(workdir: Path) -> DjangoProcess:
    """Start the tutorial project; wait until ``/chat/`` answers."""
    port = free_port()
    log_path = workdir / "django.log"
    proxy_log = workdir / "proxy-requests.jsonl"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        TUTORIAL_PROXY_LOG=str(proxy_log),
        PYTHONUNBUFFERED="1",
    )
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=DJANGO_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    django = DjangoProcess(port, proc, log_path, proxy_log)
    deadline = time.monotonic() + scaled(15)
    while not _django_answers(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            django.stop()
            pytest.fail(
                f"Django runserver not answering on :{port} (exit {proc.poll()}):\n"
                + django.log_tail()
            )
        time.sleep(0.05)
    return django
