"""The chat in headless Chromium, the way people use it: Django (runserver, dev settings) and
the real-time server (memory engine) from the config Django generates.

Covered: two users chat both ways; the online list (presence + join/leave, P-40s) shows both
and drops one who leaves; a non-member cannot subscribe or publish (error 103, PX-12/PX-13);
the index unread count updates live from the personal channel (broadcast, API-03); after a
client reconnect missed messages are recovered from history (recovered: true), and after the
real-time server restarts on the same port (new epoch: recovered false) the page reloads from
Django, with no message lost or shown twice; JWT mode (tokens from Django, no connect proxy)
works the same. The room screenshot goes to docs/chat-room.png.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chat_stack import (
    REPO,
    DjangoServer,
    log_events,
    log_in,
    online,
    send,
    thread,
    wait_message,
    wait_online,
)
from playwright.sync_api import Browser, Page
from support.ports import free_port
from support.server import ServerProcess
from support.timing import scaled

SCREENSHOT = REPO / "docs" / "chat-room.png"


class Stack:
    def __init__(self, django: DjangoServer, server: ServerProcess, config: dict[str, Any]):
        self.django = django
        self.server = server
        self.config = config

    @property
    def origin(self) -> str:
        return self.django.origin

    def describe(self) -> str:
        return self.server.describe("--- Django ---\n" + self.django.log_tail())


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with the demo data, copied for each test."""
    workdir = tmp_path_factory.mktemp("chat-template")
    DjangoServer.prepare(workdir, {})
    return workdir / "db.sqlite3"


@pytest.fixture
def stack(
    server_factory: Callable[..., ServerProcess], tmp_path: Path, seeded_db: Path
) -> Iterator[Stack]:
    rt_port = free_port()
    django = DjangoServer.prepare(
        tmp_path / "django",
        {
            "CENTRIPETAL_PORT": str(rt_port),
            "CENTRIPETAL_API_URL": f"http://127.0.0.1:{rt_port}/api",
        },
        template=seeded_db,
    )
    django.start()
    try:
        config = django.server_config(origin=django.origin)
        server = server_factory(config, port=rt_port)
        yield Stack(django, server, config)
    finally:
        django.stop()


def open_room(page: Page, stack: Stack, slug: str) -> None:
    page.goto(f"{stack.origin}/rooms/{slug}/")
    page.wait_for_function(
        "window.chat && window.chat.log.some(e => e.event === 'subscribed')",
        timeout=scaled(15) * 1000,
    )


def test_two_users_chat_presence_and_screenshot(browser: Browser, stack: Stack) -> None:
    alice_ctx = browser.new_context(viewport={"width": 1100, "height": 720})
    bob_ctx = browser.new_context(viewport={"width": 390, "height": 780})  # a phone
    try:
        alice = log_in(alice_ctx, stack.origin, "alice")
        bob = log_in(bob_ctx, stack.origin, "bob")
        open_room(alice, stack, "lobby")
        open_room(bob, stack, "lobby")
        wait_online(alice, ["alice", "bob"])
        wait_online(bob, ["alice", "bob"])

        send(alice, "Hi Bob! Ready for the demo?")
        wait_message(bob, "Hi Bob! Ready for the demo?")
        bob.fill("#chat-message-input", "Almost")
        alice.wait_for_function(
            "document.getElementById('typing').textContent === 'bob is typing…'",
            timeout=scaled(10) * 1000,
        )
        bob.fill("#chat-message-input", "")
        send(bob, "Yes, all set. Ship it!")
        wait_message(alice, "Yes, all set. Ship it!")
        send(alice, "Great, merging now.")
        wait_message(bob, "Great, merging now.")
        assert thread(alice) == thread(bob)
        texts = [text for _, text in thread(alice)]
        assert texts == [
            "Welcome to the lobby! Say hello.",
            "Hi Bob! Ready for the demo?",
            "Yes, all set. Ship it!",
            "Great, merging now.",
        ]
        own = alice.eval_on_selector_all(
            "#chat-thread .msg.mine .msg-text", "e => e.map(x => x.textContent)"
        )
        assert own == [
            "Welcome to the lobby! Say hello.",
            "Hi Bob! Ready for the demo?",
            "Great, merging now.",
        ]
        assert alice.text_content("#online-count") == "2"
        SCREENSHOT.parent.mkdir(exist_ok=True)
        alice.screenshot(path=str(SCREENSHOT))

        bob_ctx.close()  # bob leaves: his connection closes, a leave push follows
        wait_online(alice, ["alice"])
        assert online(alice) == ["alice"]
    finally:
        alice_ctx.close()
        if bob_ctx.pages:
            bob_ctx.close()


def test_non_member_cannot_subscribe_or_publish(browser: Browser, stack: Stack) -> None:
    context = browser.new_context()
    try:
        carol = log_in(context, stack.origin, "carol")  # in the lobby, not in "random"
        carol.wait_for_function("window.chat.log.some(e => e.event === 'connected')")
        outcome = carol.evaluate(
            """async () => {
                const sub = window.chat.centrifuge.newSubscription('rooms:random');
                const result = {};
                const done = new Promise(resolve => sub.on('unsubscribed', ctx => {
                    result.unsubscribed = {code: ctx.code, reason: ctx.reason}; resolve();
                }));
                sub.subscribe();
                await done;
                try {
                    const data = {type: 'message', text: 'let me in'};
                    await window.chat.centrifuge.publish('rooms:random', data);
                    result.publish = 'accepted';
                } catch (err) {
                    result.publish = {code: err.code, message: err.message};
                }
                return result;
            }"""
        )
        assert outcome == {
            "unsubscribed": {"code": 103, "reason": "permission denied"},
            "publish": {"code": 103, "message": "permission denied"},
        }
        response = carol.goto(f"{stack.origin}/rooms/random/")
        assert response is not None and response.status == 403
        assert carol.is_visible("#join-room")
    finally:
        context.close()


def test_index_unread_count_updates_live(browser: Browser, stack: Stack) -> None:
    alice_ctx, bob_ctx = browser.new_context(), browser.new_context()
    try:
        alice = log_in(alice_ctx, stack.origin, "alice")
        bob = log_in(bob_ctx, stack.origin, "bob")  # stays on the index
        bob.wait_for_function("window.chat.log.some(e => e.event === 'personal-subscribed')")
        badge = "#room-list [data-room='lobby'] [data-role='unread']"
        assert bob.get_attribute(badge, "class") == "badge"  # the welcome message is unread
        assert bob.text_content(badge) == "1"
        open_room(alice, stack, "lobby")
        send(alice, "ping one")
        bob.wait_for_function(f"document.querySelector(\"{badge}\").textContent === '2'")
        send(alice, "ping two")
        bob.wait_for_function(f"document.querySelector(\"{badge}\").textContent === '3'")
        last = bob.text_content("#room-list [data-room='lobby'] [data-role='last']")
        assert last == "alice: ping two"
        first_room = bob.get_attribute("#room-list li:first-child", "data-room")
        assert first_room == "lobby"
        bob.reload()
        assert bob.text_content(badge) == "3"  # the server-rendered count agrees
        open_room(bob, stack, "lobby")  # reading clears it
        bob.goto(stack.origin + "/")
        assert "hidden" in (bob.get_attribute(badge, "class") or "")
    finally:
        alice_ctx.close()
        bob_ctx.close()


def test_reconnect_and_server_restart_lose_and_duplicate_nothing(
    browser: Browser, stack: Stack, server_factory: Callable[..., ServerProcess]
) -> None:
    alice_ctx, bob_ctx = browser.new_context(), browser.new_context()
    try:
        alice = log_in(alice_ctx, stack.origin, "alice")
        bob = log_in(bob_ctx, stack.origin, "bob")
        open_room(alice, stack, "lobby")
        open_room(bob, stack, "lobby")
        wait_online(alice, ["alice", "bob"])
        send(alice, "before anything")
        wait_message(bob, "before anything")

        # 1. bob drops off; a message is published meanwhile; bob recovers it from history.
        bob.evaluate("window.chat.centrifuge.disconnect()")
        wait_online(alice, ["alice"])
        send(alice, "while bob was away")
        bob.evaluate("window.chat.centrifuge.connect()")
        wait_message(bob, "while bob was away")
        subscribed = log_events(bob, "subscribed")
        assert subscribed[-1] == {"event": "subscribed", "recovered": True, "wasRecovering": True}

        # 2. the real-time server restarts on the same port; history is gone (memory engine).
        bob.evaluate("window.chat.centrifuge.disconnect()")
        port = stack.server.port
        stack.server.stop()
        server_factory(stack.config, port=port)
        alice.wait_for_function(
            "window.chat.log.filter(e => e.event === 'subscribed').length >= 2",
            timeout=scaled(40) * 1000,
        )
        send(alice, "after the restart")
        bob.evaluate("window.chat.centrifuge.connect()")
        wait_message(bob, "after the restart")
        assert log_events(bob, "subscribed")[-1]["recovered"] is False
        send(bob, "bob is back")
        wait_message(alice, "bob is back")

        expected = [
            "Welcome to the lobby! Say hello.",
            "before anything",
            "while bob was away",
            "after the restart",
            "bob is back",
        ]
        for page in (alice, bob):
            rows = thread(page)
            ids = [i for i, _ in rows]
            assert [t for _, t in rows] == expected, stack.describe()
            assert ids == sorted(set(ids))
        stored = alice.evaluate(
            "fetch('/rooms/lobby/messages/').then(r => r.json())"
            ".then(d => d.messages.map(m => m.id))"
        )
        assert [i for i, _ in thread(alice)] == stored
    finally:
        alice_ctx.close()
        bob_ctx.close()


def test_jwt_mode_chat_without_connect_proxy(
    browser: Browser, server_factory: Callable[..., ServerProcess], tmp_path: Path, seeded_db: Path
) -> None:
    """``CHAT_REALTIME_AUTH=jwt``: tokens from Django views (getToken), no connect proxy."""
    rt_port = free_port()
    django = DjangoServer.prepare(
        tmp_path / "django",
        {
            "CENTRIPETAL_PORT": str(rt_port),
            "CENTRIPETAL_API_URL": f"http://127.0.0.1:{rt_port}/api",
            "CHAT_REALTIME_AUTH": "jwt",
        },
        template=seeded_db,
    )
    django.start()
    alice_ctx, bob_ctx = browser.new_context(), browser.new_context()
    try:
        config = django.server_config(origin=django.origin)
        assert "proxy" not in config["client"]
        stack = Stack(django, server_factory(config, port=rt_port), config)
        alice = log_in(alice_ctx, django.origin, "alice")
        bob = log_in(bob_ctx, django.origin, "bob")
        open_room(alice, stack, "lobby")
        open_room(bob, stack, "lobby")
        send(bob, "signed and sealed")
        wait_message(alice, "signed and sealed")
        log = django.log_tail(400)
        assert "POST /centripetal/token/connection/" in log
        assert "POST /centripetal/token/subscription/" in log
        assert "/centripetal/proxy/connect/" not in log
    finally:
        alice_ctx.close()
        bob_ctx.close()
        django.stop()
