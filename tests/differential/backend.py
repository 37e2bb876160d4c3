"""An application backend for proxy conversations: it records every request Centrifugo or
centripetal sends it and answers from a table (PX-01..PX-15).

It runs its own event loop in a thread, so the servers can call it whatever loop the test
uses. ``take()`` returns the requests recorded since the last call: path, the headers a proxy
forwards or sets (``Content-Type`` and the ones listed in ``HEADERS``), and the JSON body.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web
from support.ports import free_port

__all__ = ["Backend"]

HEADERS = ("content-type", "x-forwarded", "x-static", "cookie", "authorization", "origin")

Answer = Callable[[dict[str, Any]], tuple[int, Any]]


class Backend:
    def __init__(self, answers: dict[str, Answer]) -> None:
        self.answers = answers
        self.port = free_port()
        self.requests: list[Any] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Backend:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("backend did not start")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/{name}", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        headers = {
            k.lower(): v
            for k, v in request.headers.items()
            if any(k.lower().startswith(h) for h in HEADERS)
        }
        headers["content-type"] = headers.get("content-type", "").split(";")[0]
        name = request.match_info["name"]
        with self._lock:
            self.requests.append(("backend", request.path, headers, body))
        status, answer = self.answers[name](body if isinstance(body, dict) else {})
        return web.json_response(answer, status=status)

    def take(self) -> list[Any]:
        with self._lock:
            out, self.requests = self.requests, []
        return out

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
