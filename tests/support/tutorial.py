"""The tutorial's pieces for tests: its ``config.json`` and its Django project under
``manage.py runserver`` (spec §12, MG-04, MG-10), started and stopped by pid."""

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

from support.ports import free_port, port_accepts
from support.timing import scaled

DJANGO_DIR = Path(__file__).resolve().parent.parent / "integration" / "tutorial"

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


def tutorial_config(
    centrifugo_port: int,
    django_port: int,
    *,
    redis: bool = False,
    origin: str | None = None,
) -> dict[str, Any]:
    """The tutorial's config with its ports moved to the test's. The memory engine replaces
    Redis unless ``redis`` (then ``engine``/``redis_address`` stay verbatim: localhost:6379);
    ``origin`` replaces ``allowed_origins`` when the test serves the page itself."""
    config: dict[str, Any] = json.loads(TUTORIAL_CONFIG_JSON)
    config["port"] = centrifugo_port
    if not redis:
        config["engine"] = "memory"
        del config["redis_address"]
    if origin is not None:
        config["allowed_origins"] = origin
    for key in ("proxy_connect_endpoint", "proxy_publish_endpoint", "proxy_subscribe_endpoint"):
        config[key] = config[key].replace("localhost:8000", f"localhost:{django_port}")
    return config


@dataclass
class DjangoProcess:
    """``manage.py runserver`` of the tutorial project; ``records()`` reads the proxy requests
    its test middleware logged."""

    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    proxy_log: Path

    @classmethod
    def start(cls, workdir: Path, *, ready_path: str = "/chat/") -> DjangoProcess:
        """Start on a free port; return once ``ready_path`` answers (any HTTP status)."""
        port = free_port()
        log_path = workdir / "django.log"
        proxy_log = workdir / "proxy-requests.jsonl"
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="mysite.settings",
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
        django = cls(port, proc, log_path, proxy_log)
        deadline = time.monotonic() + scaled(15)
        while not django._answers(ready_path):
            if proc.poll() is not None or time.monotonic() > deadline:
                django.stop()
                raise RuntimeError(
                    f"Django runserver not answering on :{port} (exit {proc.poll()}):\n"
                    + django.log_tail()
                )
            time.sleep(0.05)
        return django

    def _answers(self, path: str) -> bool:
        if not port_accepts("127.0.0.1", self.port):
            return False
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=scaled(2))
        try:
            conn.request("GET", path)
            conn.getresponse().read()
            return True
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def records(self) -> list[dict[str, Any]]:
        if not self.proxy_log.exists():
            return []
        lines = self.proxy_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL, to this process's own pid."""
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
