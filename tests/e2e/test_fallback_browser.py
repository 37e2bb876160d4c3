"""centrifuge-js 5.x in headless Chromium with WebSocket unavailable: the client falls back to
http_stream, and to sse when http_stream fails too (TR-02, TR-03, TR-04, TR-12).

The page is served from its own origin (a static file server on another port), so every
request to centripetal is cross-origin and relies on the CORS answers of TR-12
(``client.allowed_origins``). ``window.WebSocket`` is deleted before any script runs.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from support.node_js import SCENARIO_CHANNEL_OPTIONS
from support.ports import free_port
from support.server import ServerProcess
from support.timing import scaled
from support.tokens import connection_token
from tutorial_site import JS_DIR

SECRET = "browser-fallback-secret-0123456789abc"
BUNDLE = JS_DIR / "node_modules" / "centrifuge" / "dist" / "centrifuge.js"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><script src="centrifuge.js"></script></head>
<body><script>
window.events = [];
window.start = (base, token, transports) => {
  const c = new Centrifuge(
    transports.map(([transport, path]) => ({transport, endpoint: base + path})),
    {token, emulationEndpoint: base + '/emulation', minReconnectDelay: 100, maxReconnectDelay: 300},
  );
  const log = (event, fields) => window.events.push({event, ...fields});
  c.on('connected', (ctx) => log('connected', {transport: ctx.transport, client: ctx.client}));
  c.on('disconnected', (ctx) => log('disconnected', {code: ctx.code}));
  window.client = c;
  c.connect();
  return c.ready(10000).then(() => c.state);
};
window.subscribe = (channel) => {
  const sub = window.client.newSubscription(channel);
  sub.on('subscribed', (ctx) => window.events.push({event: 'subscribed', channel,
    recovered: ctx.recovered, wasRecovering: ctx.wasRecovering}));
  sub.on('publication', (ctx) => window.events.push({event: 'publication', channel,
    data: ctx.data, offset: Number(ctx.offset), user: ctx.info ? ctx.info.user : null}));
  sub.subscribe();
  return sub.ready(10000).then(() => sub.state);
};
</script></body></html>
"""

CONFIG: dict[str, Any] = {
    "client": {"token": {"hmac_secret_key": SECRET}},
    "http_stream": {"enabled": True},
    "sse": {"enabled": True},
    "channel": {"without_namespace": dict(SCENARIO_CHANNEL_OPTIONS)},
}


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def page_origin(
    tmp_path_factory: pytest.TempPathFactory, require_tool: Callable[[str], str]
) -> Iterator[str]:
    """The page and the centrifuge-js browser bundle on a static server of their own."""
    if not BUNDLE.exists():
        pytest.fail(f"{BUNDLE} missing: run npm ci in {JS_DIR}")
    root = tmp_path_factory.mktemp("fallback-page")
    (root / "index.html").write_text(PAGE, encoding="utf-8")
    shutil.copy(BUNDLE, root / "centrifuge.js")
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, page_origin: str) -> Iterator[ServerProcess]:
    config = {**CONFIG, "client": {**CONFIG["client"], "allowed_origins": [page_origin]}}
    proc = ServerProcess(config, workdir=tmp_path_factory.mktemp("fallback-browser-server"))
    proc.start()
    yield proc
    proc.cleanup()


def open_page(browser: Browser, origin: str) -> Page:
    page = browser.new_page()
    page.set_default_timeout(scaled(15) * 1000)
    page.add_init_script("delete window.WebSocket;")
    page.goto(origin + "/index.html")
    assert page.evaluate("typeof window.WebSocket") == "undefined"
    return page


def wait_events(page: Page, event: str, count: int) -> list[dict[str, Any]]:
    page.wait_for_function(
        f"window.events.filter(e => e.event === {json.dumps(event)}).length >= {count}",
        timeout=scaled(15) * 1000,
    )
    events: list[dict[str, Any]] = page.evaluate("window.events")
    return [e for e in events if e["event"] == event]


WS = ("websocket", "/connection/websocket")
SSE = ("sse", "/connection/sse")


@pytest.mark.parametrize(
    ("transports", "expected"),
    [
        # no WebSocket in the page: websocket is skipped, http_stream is used
        ([WS, ("http_stream", "/connection/http_stream"), SSE], "http_stream"),
        # http_stream fails (no such endpoint): the client moves on to sse
        ([WS, ("http_stream", "/no/such/endpoint"), SSE], "sse"),
    ],
)
def test_browser_falls_back(
    browser: Browser,
    server: ServerProcess,
    page_origin: str,
    transports: list[tuple[str, str]],
    expected: str,
) -> None:
    """Connect, subscribe, publish, presence, history and recovery over the fallback."""
    ch = f"browser_{expected}"
    page = open_page(browser, page_origin)
    try:
        tok = connection_token(SECRET, "carol")
        state = page.evaluate(
            "([b, t, tr]) => window.start(b, t, tr)", [server.http_url, tok, transports]
        )
        assert state == "connected"
        (connected,) = wait_events(page, "connected", 1)
        assert connected["transport"] == expected
        assert page.evaluate("(ch) => window.subscribe(ch)", ch) == "subscribed"
        assert page.evaluate("(ch) => window.client.publish(ch, {n: 1})", ch) == {}
        (pub,) = wait_events(page, "publication", 1)
        assert (pub["data"], pub["offset"], pub["user"]) == ({"n": 1}, 1, "carol")
        stats = page.evaluate("(ch) => window.client.presenceStats(ch)", ch)
        assert stats == {"numClients": 1, "numUsers": 1}
        history = page.evaluate(
            "(ch) => window.client.history(ch, {limit: 5}).then("
            "r => r.publications.map(p => [Number(p.offset), p.data]))",
            ch,
        )
        assert history == [[1, {"n": 1}]]
        # recovery: publications made while the client is away come back on reconnect
        page.evaluate("() => window.client.disconnect()")
        other = open_page(browser, page_origin)
        try:
            other.evaluate(
                "([b, t, tr]) => window.start(b, t, tr)",
                [server.http_url, connection_token(SECRET, "dave"), transports],
            )
            other.evaluate("(ch) => window.client.publish(ch, {n: 2})", ch)
            other.evaluate("(ch) => window.client.publish(ch, {n: 3})", ch)
        finally:
            other.close()
        page.evaluate("() => window.client.connect()")
        pubs = wait_events(page, "publication", 3)
        assert [(p["offset"], p["data"]) for p in pubs] == [
            (1, {"n": 1}),
            (2, {"n": 2}),
            (3, {"n": 3}),
        ]
        resub = wait_events(page, "subscribed", 2)[1]
        assert (resub["wasRecovering"], resub["recovered"]) == (True, True)
        assert [e["transport"] for e in wait_events(page, "connected", 2)] == [expected] * 2
    finally:
        page.close()
