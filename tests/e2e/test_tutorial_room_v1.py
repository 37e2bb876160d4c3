"""The Django chat tutorial in a real browser: two tabs in ``lobby``, "hello" appears in both.

Acceptance of the legacy protocol (spec §2 and §12): the tutorial's own ``index.html`` and
``room.html`` run in Chromium with centrifuge-js 2.8.3 (served from the npm package in place
of the CDN), behind the tutorial's nginx, against centripetal started from the tutorial's
``config.json``. Rows: L-59 (v1 detected on the first frame), L-02/L-03 (commands: connect
without ``method``, SUBSCRIBE=1, PUBLISH=3), L-04 (replies), L-05 (publication push, type 0
omitted), TV-14, P-42 (publisher info), PX-04 (the page's cookie reaches Django), PX-10/12/13,
TR-12/MG-15 (``allowed_origins`` is the page's origin), MG-04/MG-10 (v3 flat config).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route, WebSocket, expect
from support.timing import scaled, wait_until
from tutorial_site import TutorialStack

CDN_URL = "https://cdn.jsdelivr.net/gh/centrifugal/centrifuge-js@2.8.3/dist/centrifuge.min.js"
ROOM_PATH = "/chat/room/lobby/"
CHANNEL = "rooms:lobby"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "tutorial-room.png"
CONNECT, SUBSCRIBE, PUBLISH = (
    f"/chat/centrifugo/{event}/" for event in ("connect", "subscribe", "publish")
)


@dataclass
class Tab:
    """One browser tab with what it sent and received on its WebSockets (decoded JSON)."""

    page: Page
    ws_urls: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    bundle_served: int = 0

    def replies(self) -> dict[int, dict[str, Any]]:
        return {frame["id"]: frame for frame in self.received if frame.get("id")}

    def commands(self, method: int) -> list[dict[str, Any]]:
        return [c for c in self.sent if c.get("method", 0) == method]

    def pushes(self) -> list[dict[str, Any]]:
        return [frame for frame in self.received if not frame.get("id")]

    def describe(self) -> str:
        return (
            f"ws={self.ws_urls}\nsent={self.sent}\nreceived={self.received}\n"
            f"console={self.console}\nrequests={self.requests}"
        )


def _decode(payload: str | bytes) -> list[dict[str, Any]]:
    """Frames are newline-delimited JSON (L-01); a binary frame is kept as a marker."""
    if isinstance(payload, bytes):
        return [{"binary": payload.hex()}]
    return [json.loads(line) for line in payload.split("\n") if line.strip()]


def open_tab(browser: Browser, bundle: Path, stack: TutorialStack, cookie: str) -> Tab:
    """A new browser context (own cookie jar) whose page records its traffic."""
    context = browser.new_context(viewport={"width": 640, "height": 320})
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": stack.origin}])
    page = context.new_page()
    tab = Tab(page)

    def serve_bundle(route: Route) -> None:
        tab.bundle_served += 1
        route.fulfill(path=str(bundle), content_type="application/javascript")

    def on_websocket(ws: WebSocket) -> None:
        tab.ws_urls.append(ws.url)
        ws.on("framesent", lambda payload: tab.sent.extend(_decode(payload)))
        ws.on("framereceived", lambda payload: tab.received.extend(_decode(payload)))

    context.route(CDN_URL, serve_bundle)
    page.on("websocket", on_websocket)
    page.on("console", lambda message: tab.console.append(message.text))
    page.on("request", lambda request: tab.requests.append(request.url))
    return tab


def wait_for(tab: Tab, predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll while letting Playwright deliver events (``wait_for_timeout``, not ``sleep``)."""
    deadline = time.monotonic() + scaled(timeout)
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n{tab.describe()}")
        tab.page.wait_for_timeout(25)


def subscribed(tab: Tab) -> bool:
    replies = tab.replies()
    connects, subscribes = tab.commands(0), tab.commands(1)
    return bool(connects and subscribes) and all(
        c["id"] in replies for c in (*connects, *subscribes)
    )


def check_handshake(tab: Tab, stack: TutorialStack) -> str:
    """The page connected and subscribed to ``rooms:lobby`` over v1; return its client id."""
    wait_for(tab, lambda: subscribed(tab), 10, "connect and subscribe replies")
    context = stack.describe(tab.describe())
    assert tab.ws_urls == [stack.origin.replace("http://", "ws://") + "/connection/websocket"]
    (connect,) = tab.commands(0)
    (subscribe,) = tab.commands(1)
    assert "method" not in connect, context  # L-02: centrifuge-js 2.x omits CONNECT=0
    assert subscribe["params"] == {"channel": CHANNEL}, context
    replies = tab.replies()
    connect_reply = replies[connect["id"]]
    assert "error" not in connect_reply, context
    client: str = connect_reply["result"]["client"]
    assert client, context
    # TV-14: the subscribe reply of a channel without history or recovery is empty.
    assert replies[subscribe["id"]] == {"id": subscribe["id"], "result": {}}, context
    assert tab.bundle_served == 1, context
    # Everything the page loaded came from its own origin, except the routed CDN script.
    foreign = [u for u in tab.requests if not u.startswith(stack.origin) and u != CDN_URL]
    assert foreign == [], context
    assert any(line.startswith("connected") for line in tab.console), context
    return client


@pytest.fixture
def tabs(
    browser: Browser, centrifuge_js_2: Path, tutorial_stack: TutorialStack
) -> Iterator[list[Tab]]:
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        tab.page.context.close()


def test_index_enter_opens_room(
    browser: Browser, centrifuge_js_2: Path, tutorial_stack: TutorialStack, tabs: list[Tab]
) -> None:
    """Index page: type "lobby" and Enter navigates to ``/chat/room/lobby/``, which joins."""
    tab = open_tab(browser, centrifuge_js_2, tutorial_stack, "index-tab")
    tabs.append(tab)
    page = tab.page
    page.goto(tutorial_stack.url("/chat/"), timeout=scaled(10) * 1000)
    expect(page).to_have_title("Select a chat room")
    page.keyboard.type("lobby")  # the input has the focus (nameInput.focus())
    page.keyboard.press("Enter")
    page.wait_for_url(tutorial_stack.url(ROOM_PATH), timeout=scaled(10) * 1000)
    expect(page).to_have_title("Chat Room")
    assert json.loads(page.locator("#room-name").text_content() or "null") == "lobby"
    check_handshake(tab, tutorial_stack)


def test_two_tabs_hello_appears_in_both(
    browser: Browser, centrifuge_js_2: Path, tutorial_stack: TutorialStack, tabs: list[Tab]
) -> None:
    """Two tabs in ``lobby``; "hello" typed in the first one appears once in both (issue 7)."""
    stack = tutorial_stack
    seen_before = len(stack.django.records())
    upgrades_before = sum(
        '"GET /connection/websocket HTTP/1.1" 101' in line for line in stack.nginx.access_lines()
    )
    cookies = ("tab1-5f0c2a9e", "tab2-81d3b7c4")
    first, second = (open_tab(browser, centrifuge_js_2, stack, c) for c in cookies)
    tabs.extend((first, second))
    for tab in (first, second):
        tab.page.goto(stack.url(ROOM_PATH), timeout=scaled(10) * 1000)
    ids = [check_handshake(tab, stack) for tab in (first, second)]
    assert ids[0] != ids[1]

    message_input = first.page.locator("#chat-message-input")
    message_input.press_sequentially("hello")
    message_input.press("Enter")

    timeout_ms = scaled(10) * 1000
    for tab in (first, second):
        items = tab.page.locator("#chat-thread li")
        expect(items).to_have_text(["hello"], timeout=timeout_ms)
    expect(message_input).to_have_value("")
    first.page.wait_for_timeout(300)  # a duplicate delivery would land within this
    context = stack.describe(f"{first.describe()}\n--- tab 2 ---\n{second.describe()}")
    for tab in (first, second):
        assert tab.page.locator("#chat-thread li").all_text_contents() == ["hello"], context

    # L-03/L-04: one PUBLISH=3 command from the first tab, answered with an empty result.
    (publish,) = first.commands(3)
    assert publish["params"] == {"channel": CHANNEL, "data": {"message": "hello"}}, context
    assert first.replies()[publish["id"]] == {"id": publish["id"], "result": {}}, context
    assert second.commands(3) == [], context
    # L-05/P-42: each tab got exactly one publication push, with the publisher's info.
    for tab in (first, second):
        (push,) = tab.pushes()
        result = push["result"]
        assert "type" not in result, context  # publication = 0, omitted
        assert result["channel"] == CHANNEL, context
        assert result["data"]["data"] == {"message": "hello"}, context
        assert result["data"]["info"] == {"client": ids[0], "user": "tutorial-user"}, context

    # PX-04/PX-10/12/13: Django saw the browsers' session cookies through the same origin.
    records = stack.django.records()[seen_before:]
    cookie_of = {ids[0]: f"sessionid={cookies[0]}", ids[1]: f"sessionid={cookies[1]}"}
    paths = sorted(r["path"] for r in records)
    assert paths == sorted([CONNECT, CONNECT, SUBSCRIBE, SUBSCRIBE, PUBLISH]), context
    for record in records:
        assert record["cookie"] == cookie_of[record["body"]["client"]], context
    (published,) = [r for r in records if r["path"] == PUBLISH]
    assert published["body"]["data"] == {"message": "hello"}, context
    assert published["body"]["channel"] == CHANNEL, context

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    first.page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The pages and both WebSocket upgrades went through nginx (it logs an upgraded
    # connection when it ends, so the tabs are closed first).
    for tab in (first, second):
        tab.page.context.close()

    def upgrades() -> int:
        lines = stack.nginx.access_lines()
        return sum('"GET /connection/websocket HTTP/1.1" 101' in line for line in lines)

    wait_until(lambda: upgrades() >= upgrades_before + 2, 10, message="nginx access log")
    access = stack.nginx.access_lines()
    assert sum(f'"GET {ROOM_PATH} HTTP/1.1" 200' in line for line in access) >= 2, context
