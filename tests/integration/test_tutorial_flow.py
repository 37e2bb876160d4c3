"""The Django chat tutorial, end to end, against centripetal (spec §12, MG-04, MG-10).

Django runs the tutorial's proxy views unchanged (``tutorial/chat/views.py``); centripetal
starts from the tutorial's ``config.json`` (v3 flat layout, MG-04) with only the ports and
the memory engine changed; two centrifuge-js clients in Node stand in for the two browser
tabs (``js/tutorial_clients.mjs``). Rows: PX-10 connect proxy (user ``tutorial-user``),
PX-12 subscribe proxy and PX-13 publish proxy for the ``rooms`` namespace (v3
``proxy_subscribe``/``proxy_publish``/``publish``), PX-04 only ``proxy_http_headers``
(``Cookie``) forwarded, PX-05 common request fields, P-42 publication with client info.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.ports import free_port, port_accepts
from support.redis import RedisServer
from support.server import ServerFactory
from support.timing import scaled
from support.tutorial import DjangoProcess, tutorial_config

pytestmark = pytest.mark.node

HERE = Path(__file__).resolve().parent
JS_DIR = HERE / "js"

CHANNEL = "rooms:lobby"
MESSAGE = {"message": "hello"}
COOKIES = ("sessionid=tab1-5f0c2a9e", "sessionid=tab2-81d3b7c4")
CONNECT, SUBSCRIBE, PUBLISH = (
    f"/chat/centrifugo/{event}/" for event in ("connect", "subscribe", "publish")
)


@pytest.fixture
def django_server(tmp_path: Path) -> Iterator[DjangoProcess]:
    """The tutorial project on a free port; exactly that pid is stopped at teardown."""
    try:
        django = DjangoProcess.start(tmp_path, ready_path="/")
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield django
    finally:
        django.stop()


@pytest.fixture(scope="module")
def node(require_tool: Callable[[str], str]) -> str:
    """Path of ``node`` with the package's ``node_modules`` installed (``npm ci``)."""
    node_path = require_tool("node")
    if not (JS_DIR / "node_modules" / "centrifuge" / "package.json").exists():
        npm = require_tool("npm")
        install = "ci" if (JS_DIR / "package-lock.json").exists() else "install"
        proc = subprocess.run(
            [npm, install, "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=scaled(300),
            check=False,
        )
        assert proc.returncode == 0, f"npm {install} failed:\n{proc.stdout}\n{proc.stderr}"
    return node_path


def run_tabs(node: str, ws_url: str) -> tuple[dict[str, Any], str]:
    """Run ``tutorial_clients.mjs``; return its report and a diagnostic text."""
    spec = {
        "url": ws_url,
        "channel": CHANNEL,
        "data": MESSAGE,
        "timeoutMs": int(scaled(8) * 1000),
        "clients": [{"headers": {"Cookie": c, "X-Not-Forwarded": "1"}} for c in COOKIES],
    }
    proc = subprocess.run(
        [node, "tutorial_clients.mjs"],
        cwd=JS_DIR,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=scaled(25),
        check=False,
    )
    text = f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    lines = proc.stdout.strip().splitlines()
    try:
        report: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        pytest.fail(f"tutorial_clients.mjs printed no report:\n{text}")
    assert proc.returncode == (0 if report.get("ok") else 1), text
    return report, text


@pytest.fixture(params=["memory", "redis"])
def engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """The tutorial's engine line: memory, or ``"engine": "redis"`` with its verbatim
    ``redis_address`` (a real redis-server started on localhost:6379; EN-05, issue 5)."""
    if request.param == "memory":
        yield "memory"
        return
    if port_accepts("127.0.0.1", 6379):
        pytest.fail("port 6379 is busy: the tutorial's redis_address needs it for this test")
    with RedisServer(port=6379):
        yield "redis"


def test_tutorial_chat_flow(
    server_factory: ServerFactory, django_server: DjangoProcess, node: str, engine: str
) -> None:
    """Two tabs join ``rooms:lobby``; tab 1 says hello; both see it; Django saw the cookies."""
    port = free_port()
    config = tutorial_config(port, django_server.port, redis=engine == "redis")
    server = server_factory(config, port=port)
    report, text = run_tabs(node, server.ws_url())
    records = django_server.records()
    context = server.describe(
        f"{text}\n--- Django proxy requests ---\n"
        + "\n".join(json.dumps(r) for r in records)
        + f"\n--- Django log ---\n{django_server.log_tail()}"
    )
    assert report["ok"], context

    # Both clients: connected over WebSocket, subscribed, exactly one publication: hello.
    tabs = report["clients"]
    ids = [tab["clientId"] for tab in tabs]
    assert all(ids) and ids[0] != ids[1], context
    for tab in tabs:
        events = [e["event"] for e in tab["events"]]
        # subscribe() is called before connect(), as on the tutorial's room page.
        assert events == ["subscribing", "connecting", "connected", "subscribed", "publication"], (
            context
        )
        assert tab["events"][2]["transport"] == "websocket"
        (pub,) = [e for e in tab["events"] if e["event"] == "publication"]
        assert pub["channel"] == CHANNEL
        assert pub["data"] == MESSAGE
        # P-42: a client publication carries the publisher's info (user from PX-10).
        assert pub["info"] == {"client": ids[0], "user": "tutorial-user"}
    assert report["publishResult"] == {}

    # Django saw: one connect per client, one subscribe per client, one publish (by tab 1).
    assert all(r["method"] == "POST" for r in records), context
    by_path = {p: [r for r in records if r["path"] == p] for p in (CONNECT, SUBSCRIBE, PUBLISH)}
    assert sum(len(v) for v in by_path.values()) == len(records) == 5, context
    cookie_of = dict(zip(ids, COOKIES, strict=True))

    connects = by_path[CONNECT]
    assert sorted(r["body"]["client"] for r in connects) == sorted(ids), context
    for r in connects:  # PX-10 request: client, transport, protocol, encoding; no user yet
        body = r["body"]
        assert (body["transport"], body["protocol"], body["encoding"]) == (
            "websocket",
            "json",
            "json",
        )
        assert "user" not in body
        assert r["cookie"] == cookie_of[body["client"]], context

    subscribes = by_path[SUBSCRIBE]
    assert sorted(r["body"]["client"] for r in subscribes) == sorted(ids), context
    for r in subscribes:  # PX-12 request
        assert r["body"]["channel"] == CHANNEL
        assert r["body"]["user"] == "tutorial-user"
        assert r["cookie"] == cookie_of[r["body"]["client"]], context

    (publish,) = by_path[PUBLISH]  # PX-13 request
    assert publish["body"]["data"] == MESSAGE
    assert publish["body"]["channel"] == CHANNEL
    assert publish["body"]["client"] == ids[0]
    assert publish["body"]["user"] == "tutorial-user"
    assert publish["cookie"] == COOKIES[0]

    # PX-04: only the listed header crossed over. X-Not-Forwarded travelled in the same
    # handshake headers as the Cookie that did arrive, so the server had it and dropped it.
    for r in records:
        names = {name.lower() for name in r["headers"]}
        assert "x-not-forwarded" not in names, context
        assert "cookie" in names
