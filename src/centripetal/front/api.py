"""Server API calls answered on the front connection itself (spec API-01, API-02, API-04).

``ApiPipeline`` is the answering half of a front-mode connection (protocol.py parses): the
requests of one connection are answered in order (pipelining is allowed). A call that finishes
without waiting is answered inside the read callback (eager.py), the first one that waits goes
on in a task, and so do those after it. This is the benchmark's W5 path.

Flow control (docs/security.md): reading pauses while more than ``MAX_PIPELINED`` requests or
``max_body`` bytes of bodies wait, and while the client does not read its answers (the
transport's ``pause_writing``); answering waits for ``resume_writing``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Protocol

from centripetal.limits import Refusal
from centripetal.observability.logs import failure_log

if TYPE_CHECKING:
    from centripetal.api.http import MethodHandler
    from centripetal.eager import EagerRunner
    from centripetal.limits import HTTPLimits

__all__ = ["MAX_PIPELINED", "ApiPipeline", "ApiRequest"]

logger = logging.getLogger("centripetal.front")
failures = failure_log(logger.name)

MAX_PIPELINED = 32
_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    404: b"Not Found",
    405: b"Method Not Allowed",
    409: b"Conflict",
    413: b"Request Entity Too Large",
    416: b"Requested Range Not Satisfiable",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}
Answer = tuple[int, bytes, bool]  # status, body, JSON body


class ApiRequest:
    """One request read by the front protocol."""

    __slots__ = (
        "all_headers",
        "body",
        "denied",
        "headers",
        "hosts",
        "keep_alive",
        "method",
        "path",
        "url",
    )

    def __init__(self) -> None:
        self.url = b""  # the request target as read
        self.path = ""
        self.method = b""
        self.headers: dict[bytes, bytes] = {}
        self.all_headers: list[tuple[bytes, bytes]] = []
        self.body = bytearray()
        self.keep_alive = True
        self.denied = False  # the API key was refused: the body is not kept
        self.hosts = 0  # 2: a second Host header came (400)


class Owner(Protocol):
    """What the pipeline needs of its connection."""

    def close(self) -> None: ...

    def refuse(self, refusal: Refusal) -> None: ...


def response(status: int, body: bytes, *, close: bool, json: bool = True) -> bytes:
    """One HTTP/1.1 answer with ``Content-Length``."""
    head = b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n" % (
        status,
        _REASONS.get(status, b""),
        len(body),
    )
    if body and json:
        head += b"Content-Type: application/json\r\n"
    elif body:
        head += b"Content-Type: text/plain; charset=utf-8\r\n"
    if close:
        head += b"Connection: close\r\n"
    return head + b"\r\n" + body


_EMPTY_RESULT = b'{"result":{}}'
_EMPTY_OK = b""  # the keep-alive answer to a call with an empty result, built once


def ok_response(body: bytes) -> bytes:
    """``response(200, body, close=False)``; the most common answer (W5's publish) is built
    once."""
    global _EMPTY_OK
    if body == _EMPTY_RESULT:
        if not _EMPTY_OK:
            _EMPTY_OK = response(200, body, close=False)
        return _EMPTY_OK
    return response(200, body, close=False)


class ApiPipeline:
    """The queue of one connection's API requests and their answers (module docstring)."""

    def __init__(
        self,
        owner: Owner,
        transport: asyncio.Transport,
        routes: dict[str, MethodHandler],
        eager: EagerRunner,
        limits: HTTPLimits,
    ) -> None:
        self._owner = owner
        self._transport = transport
        self._routes = routes
        self._eager = eager
        self._max_body = limits.max_body
        self._queue: deque[ApiRequest] = deque()
        self._queued_bytes = 0
        self._worker: asyncio.Task[None] | None = None
        self._paused = False  # reading paused: too many requests wait
        self._write_paused = False  # the client does not read its answers
        self._write_resumed: asyncio.Future[None] | None = None
        self._closed = False  # the connection ends: nothing more is answered

    def idle(self) -> bool:
        """No answer is pending, so the connection may change hands in order."""
        return not self._queue and self._worker is None

    def push(self, req: ApiRequest) -> None:
        """A complete request: answer it now if nothing waits before it."""
        if self._worker is None and not self._queue and not self._write_paused:
            # the common case, kept short (W5): nothing waits, answer in this callback
            try:
                done, value = self._eager.run(self._answer(req))
            except Exception as exc:  # a server bug; client input never gets here
                self._bug(req, exc)
                return
            if done:
                self._respond(req, value)
                return
            self._queue.append(req)
            self._queued_bytes += len(req.body)
            self._worker = asyncio.get_running_loop().create_task(self._serve(value))
            return
        self._queue.append(req)
        self._queued_bytes += len(req.body)
        backlog = len(self._queue) > MAX_PIPELINED or self._queued_bytes > self._max_body
        if backlog and not self._paused:
            self._paused = True
            self._transport.pause_reading()
        if self._worker is None and not self._write_paused:
            self._serve_now()

    def _bug(self, req: ApiRequest, exc: Exception) -> None:
        failures.failure(f"server API {req.path}", exc, key=("bug", req.path, type(exc)))
        self._owner.refuse(Refusal(500))

    def pause_writing(self) -> None:
        self._write_paused = True
        if not self._paused:
            self._paused = True
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._write_resumed is not None and not self._write_resumed.done():
            self._write_resumed.set_result(None)
        self._maybe_resume_reading()
        if self._worker is None and self._queue:
            self._serve_now()

    def cancel(self) -> None:
        """The connection ends (lost or refused): drop what waits; reading goes on (a
        refused connection is drained)."""
        self._closed = True
        self._queue.clear()
        self._queued_bytes = 0
        if self._worker is not None:
            self._worker.cancel()
        if self._write_resumed is not None and not self._write_resumed.done():
            self._write_resumed.cancel()
        if self._paused:
            self._paused = False
            self._transport.resume_reading()

    # -- answering -----------------------------------------------------------------------------

    def _serve_now(self) -> None:
        """Answer queued requests in this callback while they finish without waiting
        (eager.py); the first one that waits goes on in a task, and so do those after it."""
        while self._queue and not self._write_paused and self._open():
            req = self._queue[0]
            try:
                done, value = self._eager.run(self._answer(req))
            except Exception as exc:  # a server bug; client input never gets here
                self._bug(req, exc)
                return
            if not done:
                self._worker = asyncio.get_running_loop().create_task(self._serve(value))
                return
            self._dequeue()
            if not self._respond(req, value):
                return

    async def _serve(self, first: asyncio.Future[Answer] | None) -> None:
        try:
            while self._queue and self._open():
                if self._write_paused:
                    self._write_resumed = asyncio.get_running_loop().create_future()
                    await self._write_resumed
                    self._write_resumed = None
                req = self._dequeue()
                if first is not None:
                    answer = await first
                    first = None
                else:
                    answer = await self._answer(req)
                if not self._respond(req, answer):
                    return
        finally:
            self._worker = None

    def _open(self) -> bool:
        return not self._closed and not self._transport.is_closing()

    def _dequeue(self) -> ApiRequest:
        req = self._queue.popleft()
        self._queued_bytes -= len(req.body)
        return req

    def _respond(self, req: ApiRequest, answer: Answer) -> bool:
        """Write one answer; False when the connection is closing."""
        transport = self._transport
        if self._closed or transport.is_closing():
            return False
        status, body, json = answer
        if req.keep_alive:
            if status == 200 and json:
                transport.write(ok_response(body))
            else:
                transport.write(response(status, body, close=False, json=json))
        else:
            transport.write(response(status, body, close=True, json=json))
            self._owner.close()
            return False
        if self._paused:
            self._maybe_resume_reading()
        return True

    def _maybe_resume_reading(self) -> None:
        if (
            self._paused
            and not self._write_paused
            and len(self._queue) <= MAX_PIPELINED // 2
            and self._queued_bytes <= self._max_body // 2
        ):
            self._paused = False
            self._transport.resume_reading()

    async def _answer(self, req: ApiRequest) -> Answer:
        handler = self._routes.get(req.path)
        if handler is None:
            return 404, b"404 page not found", False
        if req.method != b"POST":
            return 405, b"", False
        if req.denied:
            return 401, b"", False
        mode = req.headers.get(b"x-centrifugo-error-mode")
        status, body = await handler.call(
            bytes(req.body), mode.decode("latin-1") if mode is not None else None
        )
        return status, body, not (status == 400 and body == b"Bad Request")
