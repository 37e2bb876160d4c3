"""Composition root: Config -> Node -> aiohttp routes -> run; signals and graceful shutdown.

Spec: TR-01 (WebSocket endpoint), SV-01 (HTTP server, internal port, TLS), SV-02 (SIGINT/SIGTERM
graceful shutdown with 3001 and ``shutdown.timeout``), SV-03 (logging), SV-06 (health).

TLS never fails open: the contexts of both ports are built before anything else starts, and a
TLS setting that cannot be honoured (missing or unreadable key, bad PEM, key not matching the
certificate, ``tls_autocert``) ends the process with code 1 before any socket listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from aiohttp import web

from centripetal import proxy, tls
from centripetal.api import add_api_routes, api_app_for
from centripetal.api.http import method_handlers
from centripetal.config import support
from centripetal.engines.base import EngineError
from centripetal.front import FrontServer, Upgrader
from centripetal.limits import HTTPLimits
from centripetal.node import Node
from centripetal.observability import metrics
from centripetal.transports.admission import Admission
from centripetal.transports.echo import ECHO_PATH, EchoEndpoint
from centripetal.transports.routes import add_stream_routes
from centripetal.transports.uni_websocket import UniWebSocketEndpoint
from centripetal.transports.websocket import WebSocketEndpoint

if TYPE_CHECKING:
    from centripetal.config.schema import Config

logger = logging.getLogger("centripetal")

NODE_KEY: web.AppKey[Node] = web.AppKey("node", Node)
ECHO_ROUTE_ENV = "CENTRIPETAL_TEST_ECHO_ROUTE"
SHUTDOWN_SPREAD = 1.0  # seconds over which 3001 disconnects are spread
GC_YOUNG_THRESHOLD = 2000  # allocations between collections of the youngest generation

_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "none": logging.CRITICAL + 10,
}


def setup_logging(config: Config, tag: str = "") -> None:
    """Log to ``log.file`` or stderr at ``log.level`` (SV-03); ``tag`` (``worker 2``) goes
    into every line of a worker process (docs/scaling.md)."""
    level = _LEVELS.get(config.log.level.lower(), logging.INFO)
    handler: logging.Handler
    if config.log.file:
        handler = logging.FileHandler(config.log.file)
    else:
        handler = logging.StreamHandler(sys.stderr)
    name = f"[{tag}] %(name)s" if tag else "%(name)s"
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {name}: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


async def _health(request: web.Request) -> web.Response:
    return web.json_response({})


async def _metrics(request: web.Request) -> web.Response:
    """Prometheus exposition (SV-05)."""
    body = metrics.exposition(request.app[NODE_KEY])
    return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})


NOT_FOUND = b"404 page not found"  # Go's net/http answer, which Centrifugo gives (SV-01)


@web.middleware
async def _go_not_found(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A path nothing serves answers as Centrifugo's Go server does, not with aiohttp's page."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return web.Response(status=404, body=NOT_FOUND, content_type="text/plain")


def build_apps(
    node: Node, admission: Admission
) -> tuple[web.Application, web.Application | None, web.Application | None]:
    """The main application, the internal one when ``http_server.internal_port`` is set, and
    which of the two serves the server API (None when the API is disabled)."""
    config = node.config
    main = web.Application(middlewares=[_go_not_found])
    main[NODE_KEY] = node
    internal: web.Application | None = None
    if config.http_server.internal_port:
        internal = web.Application(middlewares=[_go_not_found])
        internal[NODE_KEY] = node
    add_stream_routes(main, node, admission)  # http_stream, sse, emulation, uni_* (TR-02..TR-08)
    if config.health.enabled:
        (internal or main).router.add_get(config.health.handler_prefix, _health)
    if config.prometheus.enabled:
        (internal or main).router.add_get(config.prometheus.handler_prefix, _metrics)
    api_app = api_app_for(main, internal, node)  # server API (API-01..API-09)
    if api_app is not None:
        add_api_routes(api_app, node)
    return main, internal, api_app


def build_upgrades(
    node: Node, admission: Admission
) -> tuple[dict[str, Upgrader], list[WebSocketEndpoint | UniWebSocketEndpoint]]:
    """The main port's WebSocket endpoints (TR-01, TR-06), served outside aiohttp
    (front.py), and the ones to abort at the end of shutdown."""
    config = node.config
    upgrades: dict[str, Upgrader] = {}
    endpoints: list[WebSocketEndpoint | UniWebSocketEndpoint] = []
    if not config.websocket.disabled:
        endpoint = WebSocketEndpoint(node, admission)
        upgrades[config.websocket.handler_prefix] = endpoint
        endpoints.append(endpoint)
    if config.uni_websocket.enabled:
        uni = UniWebSocketEndpoint(node, admission)
        upgrades[config.uni_websocket.handler_prefix] = uni
        endpoints.append(uni)
    if os.environ.get(ECHO_ROUTE_ENV) == "1":
        upgrades[ECHO_PATH] = EchoEndpoint(config.websocket.message_size_limit or None)
    return upgrades, endpoints


async def serve(
    config: Config, *, ready: asyncio.Event | None = None, reuse_port: bool = False
) -> int:
    """Run until SIGINT/SIGTERM (or cancellation), then shut down gracefully. ``reuse_port``:
    listen with ``SO_REUSEPORT``, beside the other workers on the same port (workers/)."""
    hs = config.http_server
    try:  # first: nothing may listen in plain text when TLS was asked for (SV-01)
        main_tls, internal_tls = tls.listener_contexts(hs)
        for warning in support.check(config):  # keys set that centripetal does not do
            logger.warning("%s", warning)
    except ValueError as exc:
        logger.error("%s", exc)
        return 1
    try:
        node = Node(config)
        proxy.install(node)  # application-backend hooks (spec §4)
    except (ValueError, EngineError) as exc:  # bad key material, unavailable engine, ...
        logger.error("%s", exc)
        return 1
    try:
        await node.start()
    except EngineError as exc:  # the broker cannot be reached at startup
        logger.error("engine start failed: %s", exc)
        await node.close()
        return 1
    admission = Admission(node)  # one per node, for every connection endpoint (TR-13)
    main, internal, api_app = build_apps(node, admission)
    upgrades, ws_endpoints = build_upgrades(node, admission)
    runners: list[web.AppRunner] = []
    fronts: list[FrontServer] = []
    limits = HTTPLimits.from_config(config)  # one request budget for every port (SV-01)
    try:
        for app, address, port, context in (
            (main, hs.address, hs.port, main_tls),
            (internal, hs.internal_address or hs.address, hs.internal_port, internal_tls),
        ):
            if app is None:
                continue
            runner = web.AppRunner(
                app, access_log=None, handle_signals=False, **limits.aiohttp_options()
            )
            await runner.setup()
            runners.append(runner)
            assert runner.server is not None
            # every connection starts in the front protocol (front.py): API calls and
            # WebSockets are served there, the rest is handed to aiohttp
            front = await FrontServer.start(
                method_handlers(node) if app is api_app else {},
                runner.server,
                address or None,
                port,
                upgrades if app is main else None,
                local_engine=node.local_engine,
                tls=context,
                limits=limits,
                reuse_port=reuse_port,
            )
            fronts.append(front)
            scheme = "https" if context is not None else "http"
            logger.info("serving %s on %s:%s", scheme, address or "0.0.0.0", port)
    except OSError as exc:
        logger.error("cannot listen: %s", exc)
        for front in fronts:
            await front.close()
        for runner in runners:
            await runner.cleanup()
        await node.close()
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if config.pid_file:
        with open(config.pid_file, "w") as fh:
            fh.write(str(os.getpid()))
    gc_thresholds = tune_garbage_collector()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        restore_garbage_collector(gc_thresholds)
        logger.info("shutting down")
        await _shutdown(node, runners, fronts, config.shutdown.timeout)
        for endpoint in ws_endpoints:
            endpoint.abort_all()
    return 0


def tune_garbage_collector() -> tuple[int, int, int]:
    """Make the collector cheap per connection; returns the thresholds to restore.

    A connection is some 35 objects the collector tracks (its protocols, session, timers,
    subscriptions), and a connect storm makes it walk them again and again: with CPython's
    defaults a storm of 5,000 connects (benchmark W1) ran two full collections of everything
    alive, startup objects included, about a tenth of the server's CPU per connect. So:

    * what exists once the server listens (modules, classes, the config, the node: some 100k
      objects that live as long as the process) is collected once, then frozen out of every
      later collection (``gc.freeze``): nothing dead is kept. Those full passes were also the
      tail of W5 on Redis: p99 50-54 ms without the freeze, 7-9 ms with it;
    * the youngest generation is collected every ``GC_YOUNG_THRESHOLD`` allocations instead of
      CPython's 700, so the older generations are walked about three times less often; the
      price is that garbage in reference cycles (a closed connection) waits that much longer
      for the collection that frees it.
    """
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(max(previous[0], GC_YOUNG_THRESHOLD), *previous[1:])
    return previous


def restore_garbage_collector(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(*thresholds)
    gc.unfreeze()


async def _shutdown(
    node: Node, runners: list[web.AppRunner], fronts: list[FrontServer], timeout: float
) -> None:
    try:
        async with asyncio.timeout(max(timeout, 1.0)):
            await node.shutdown_clients(min(SHUTDOWN_SPREAD, timeout / 2))
            for front in fronts:
                await front.close()
            for runner in runners:
                await runner.cleanup()
    except TimeoutError:
        logger.warning("shutdown timeout reached")
    await node.close()


def run(config: Config) -> int:
    """Blocking entry point used by the CLI."""
    setup_logging(config)
    return run_loop(serve(config))


def run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run ``main`` on uvloop when it is installed, else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
