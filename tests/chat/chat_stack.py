"""The chat's processes for the browser tests: Django (``runserver`` or gunicorn) as a child
process with its own SQLite file, the real-time server from the config Django generates, and
small Playwright helpers. Every process is stopped by its own pid."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page
from support.ports import free_port, port_accepts
from support.timing import scaled

REPO = Path(__file__).resolve().parents[2]
CHAT_DIR = REPO / "examples" / "chat"
DEMO_PASSWORD = "chat-demo-pass"


def manage(env: Mapping[str, str], *args: str) -> str:
    """Run ``manage.py ARGS`` in the chat project; return stdout, fail with its output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=CHAT_DIR,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=scaled(120),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@dataclass
class DjangoServer:
    """One Django process on ``127.0.0.1:port``."""

    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    ready_path: str = "/accounts/login/"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def prepare(
        cls,
        workdir: Path,
        env: Mapping[str, str],
        *,
        settings: str = "chatsite.settings.dev",
        template: Path | None = None,
    ) -> DjangoServer:
        """Environment, migrations and demo data (idempotent); with ``template`` (a database
        file prepared earlier) the file is copied instead."""
        workdir.mkdir(parents=True, exist_ok=True)
        full = dict(os.environ)
        full.update(
            DJANGO_SETTINGS_MODULE=settings,
            CHAT_DB_PATH=str(workdir / "db.sqlite3"),
            PYTHONUNBUFFERED="1",
        )
        full.update(env)
        server = cls(free_port(), full, workdir / "django.log")
        if template is not None:
            shutil.copyfile(template, full["CHAT_DB_PATH"])
        else:
            manage(full, "migrate", "--noinput", "-v", "0")
            manage(full, "seed_demo")
        return server

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, *, gunicorn: bool = False) -> DjangoServer:
        address = f"{self.host}:{self.port}"
        if gunicorn:
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                address,
                "--workers",
                "2",
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "chatsite.wsgi:application",
            ]
        else:
            command = [sys.executable, "manage.py", "runserver", address, "--noreload"]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                command,
                cwd=CHAT_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + scaled(30)
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Django not answering on {address}:\n{self.log_tail()}")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        if not port_accepts(self.host, self.port):
            return False
        conn = http.client.HTTPConnection(self.host, self.port, timeout=scaled(2))
        try:
            conn.request("GET", self.ready_path)
            conn.getresponse().read()
            return True
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)

    def server_config(self, *, origin: str, redis_url: str | None = None) -> dict[str, Any]:
        """The real-time server config that ``chat_centripetal_config`` writes."""
        args = ["chat_centripetal_config", "--django-url", self.origin, "--origin", origin]
        if redis_url:
            args += ["--redis", redis_url]
        config: dict[str, Any] = json.loads(self.manage(*args))
        return config

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM, then SIGKILL, to this process's own pid."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=scaled(10))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=scaled(10))


# -- browser helpers ------------------------------------------------------------------------


def log_in(context: BrowserContext, origin: str, username: str) -> Page:
    """Log ``username`` in through the login form; return the page on the index."""
    page = context.new_page()
    page.set_default_timeout(scaled(15) * 1000)
    page.goto(origin + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(origin + "/")
    return page


def send(page: Page, text: str) -> None:
    """Type a message and press Enter; wait until it is in the sender's own thread."""
    page.fill("#chat-message-input", text)
    page.press("#chat-message-input", "Enter")
    wait_message(page, text)


def wait_message(page: Page, text: str) -> None:
    page.wait_for_function(
        "t => [...document.querySelectorAll('#chat-thread .msg-text')]"
        ".some(e => e.textContent === t)",
        arg=text,
        timeout=scaled(15) * 1000,
    )


def thread(page: Page) -> list[tuple[int, str]]:
    """``(id, text)`` of every message on screen, in screen order."""
    rows: list[list[Any]] = page.evaluate(
        "[...document.querySelectorAll('#chat-thread .msg')]"
        ".map(li => [Number(li.dataset.id), li.querySelector('.msg-text').textContent])"
    )
    return [(int(i), str(t)) for i, t in rows]


def online(page: Page) -> list[str]:
    names: list[str] = page.evaluate(
        "[...document.querySelectorAll('#online-list li')].map(li => li.dataset.user)"
    )
    return names


def wait_online(page: Page, names: list[str]) -> None:
    page.wait_for_function(
        "want => JSON.stringify([...document.querySelectorAll('#online-list li')]"
        ".map(li => li.dataset.user)) === JSON.stringify(want)",
        arg=names,
        timeout=scaled(15) * 1000,
    )


def log_events(page: Page, event: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = page.evaluate(
        "e => window.chat.log.filter(x => x.event === e)", event
    )
    return events
