"""HTTP endpoints of the server API on aiohttp (spec §3: API-01..API-09, TV-15, TV-16).

* ``POST <http_api.handler_prefix>/<method>``: the body is the request object; the answer is
  ``{"result": …}`` or ``{"error": …}`` with HTTP 200 (API-01, API-02). A body that does not
  decode - malformed JSON, wrong types, integers outside their ``api.proto`` range, nesting
  too deep, a bad batch item - is HTTP 400 ``Bad Request`` (API-05); other HTTP methods get
  405 from the router. No body makes the server answer 5xx or error 100: those mean an
  internal failure.
* ``POST <http_api.handler_prefix>``: the legacy newline-delimited format (API-03): a line
  that is not a command object is HTTP 400, bad params of one command its error 107.
* Every route checks the API key first (API-04): ``X-API-Key``, else ``Authorization: apikey``,
  else ``?api_key=``; failures are HTTP 401 with an empty body.
* Transport error mode (API-06): ``http_api.error_mode: transport`` or the request header
  ``X-Centrifugo-Error-Mode: transport`` turns an error into an HTTP status.

Routes are built once (one handler object per method, its decoder prepared); the publish path
is one typed decode, one executor call and one small encode.
"""

from __future__ import annotations

import hmac
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import msgspec
from aiohttp import web

from centripetal.api.errors import ApiError, transport_status
from centripetal.api.executor import METHODS, Executor, Method
from centripetal.api.legacy import LegacyDecodeError, run_legacy
from centripetal.observability.logs import failure_log

if TYPE_CHECKING:
    from centripetal.config.schema import HttpAPI
    from centripetal.node import Node

__all__ = ["ApiAuth", "MethodHandler", "add_api_routes", "method_handlers"]

failures = failure_log("centripetal.api")

ERROR_MODE_HEADER = "X-Centrifugo-Error-Mode"
JSON = "application/json"
_encode = msgspec.json.Encoder().encode
EMPTY_RESULT = b'{"result":{}}'


class ApiAuth:
    """The API key check (API-04, S-5): constant-time comparison; the key is never logged."""

    __slots__ = ("_insecure", "_key")

    def __init__(self, cfg: HttpAPI) -> None:
        self._key = cfg.key.encode()
        self._insecure = cfg.insecure

    def allowed(self, request: web.Request) -> bool:
        headers = request.headers
        return self.check(
            headers.get("X-API-Key"), headers.get("Authorization"), request.query.get("api_key")
        )

    def check_raw(
        self, api_key: bytes | None, authorization: bytes | None, query: bytes | None
    ) -> bool:
        """``check`` on the raw header bytes the front protocol read (W5's path): an
        ``X-API-Key`` header is compared as it came, without a text round trip."""
        if self._insecure:
            return True
        if api_key is not None:
            return bool(api_key) and bool(self._key) and hmac.compare_digest(api_key, self._key)
        query_key = None
        if query:
            values = parse_qs(query.decode("latin-1")).get("api_key")
            query_key = values[0] if values else None
        text = authorization.decode("latin-1") if authorization is not None else None
        return self.check(None, text, query_key)

    def check(self, api_key: str | None, authorization: str | None, query_key: str | None) -> bool:
        """``X-API-Key``, else ``Authorization: apikey <key>``, else ``?api_key=`` (API-04)."""
        if self._insecure:
            return True
        if not self._key:
            return False
        given = api_key
        if given is None and authorization is not None:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "apikey":
                given = value.strip()
        if given is None:
            given = query_key
        if not given:
            return False
        return hmac.compare_digest(given.encode(), self._key)


def _unauthorized() -> web.Response:
    return web.Response(status=401)


def _bad_request() -> web.Response:
    return web.Response(status=400, text="Bad Request")


class MethodHandler:
    """``POST <prefix>/<method>`` for one method (API-01, API-02, API-05, API-06)."""

    __slots__ = ("auth", "batch", "executor", "latency", "method", "transport_errors")

    def __init__(self, method: Method, executor: Executor, auth: ApiAuth, cfg: HttpAPI) -> None:
        self.method = method
        self.executor = executor
        self.auth = auth
        self.transport_errors = cfg.error_mode == "transport"
        self.batch = method.name == "batch"  # API-23: no result wrapper
        self.latency = executor.node.metrics.api_latency(method.name)

    async def __call__(self, request: web.Request) -> web.Response:
        if not self.auth.allowed(request):
            return _unauthorized()
        status, body = await self.call(await request.read(), request.headers.get(ERROR_MODE_HEADER))
        if status == 400 and body == b"Bad Request":
            return _bad_request()
        return web.Response(status=status, body=body, content_type=JSON)

    async def call(self, body: bytes, error_mode: str | None) -> tuple[int, bytes]:
        """Run the method on a request body; ``(HTTP status, JSON body)`` — the same answer
        whichever HTTP server carried the request. Never raises: an undecodable body is
        ``(400, b"Bad Request")`` (API-05), an internal failure error 100 (logged once)."""
        method = self.method
        try:
            req = method.decoder.decode(body)
        except Exception:  # malformed, wrong types, out of range, too deep (API-05)
            return 400, b"Bad Request"
        started = time.perf_counter()
        try:
            result = await method.func(self.executor, req)
            encoded = _encode(result)
        except ApiError as exc:
            self.executor.node.metrics.observe_api(
                method.name, time.perf_counter() - started, exc.code
            )
            return self._error(error_mode, exc)
        except Exception as exc:
            failures.failure(f"server API {method.name}", exc, key=(method.name, type(exc)))
            self.executor.node.metrics.observe_api(method.name, time.perf_counter() - started, 100)
            return self._error(error_mode, ApiError(100))
        self.latency.observe(time.perf_counter() - started)
        if self.batch:  # API-23: no result wrapper
            return 200, encoded
        if encoded == b"{}":
            return 200, EMPTY_RESULT
        return 200, b'{"result":' + encoded + b"}"

    def _error(self, error_mode: str | None, exc: ApiError) -> tuple[int, bytes]:
        err = {"code": exc.code, "message": exc.message}
        if self.transport_errors or error_mode == "transport":
            return transport_status(exc.code), _encode(err)
        return 200, _encode({"error": err})


class _LegacyHandler:
    """``POST <prefix>``: the legacy format (API-03)."""

    __slots__ = ("auth", "executor", "node")

    def __init__(self, node: Node, executor: Executor, auth: ApiAuth) -> None:
        self.node = node
        self.executor = executor
        self.auth = auth

    async def __call__(self, request: web.Request) -> web.Response:
        if not self.auth.allowed(request):
            return _unauthorized()
        if self.node.shutting_down:
            return web.Response(status=503)
        body = await request.read()
        if not body.strip():
            return _bad_request()
        try:
            out = await run_legacy(self.executor, body)
        except LegacyDecodeError:
            return _bad_request()
        except Exception as exc:  # a bug: commands' own failures are in their replies
            failures.failure("legacy server API request", exc, key=("legacy", type(exc)))
            return web.Response(status=500, text="Internal Server Error")
        return web.Response(body=out, content_type=JSON)


def method_handlers(node: Node, executor: Executor | None = None) -> dict[str, MethodHandler]:
    """``path -> handler`` for every ``POST <prefix>/<method>`` route (API-01)."""
    cfg = node.config.http_api
    executor = executor or Executor(node)
    auth = ApiAuth(cfg)
    prefix = cfg.handler_prefix.rstrip("/")
    return {
        f"{prefix}/{name}": MethodHandler(method, executor, auth, cfg)
        for name, method in METHODS.items()
    }


def add_api_routes(app: web.Application, node: Node, executor: Executor | None = None) -> None:
    """Register the server API on ``app`` under ``http_api.handler_prefix`` (API-01, API-03)."""
    handlers = method_handlers(node, executor)
    for path, handler in handlers.items():
        app.router.add_post(path, handler)
    some = next(iter(handlers.values()))
    prefix = node.config.http_api.handler_prefix.rstrip("/")
    app.router.add_post(prefix or "/", _LegacyHandler(node, some.executor, some.auth))


def api_app_for(
    main: web.Application, internal: web.Application | None, node: Node
) -> web.Application | None:
    """Which application serves the API (API-09): the internal one when the internal port is
    set, unless ``http_api.external``; None when ``http_api.disabled``."""
    cfg = node.config.http_api
    if cfg.disabled:
        return None
    if internal is not None and not cfg.external:
        return internal
    return main
