"""centrifuge-js 5.x (npm ``centrifuge``) under Node against a live server (oracles §2).

Each test sends a scenario to ``js/scenario.mjs`` and asserts on the ordered events
and step results it prints. Rows: P-30 (connect with HS256 token, AU-02/AU-05),
P-31 (subscribe; 102 unknown namespace CH-04/E-102, 103 permission P-90/E-103),
P-33 + P-42 (publish, own publication with offset and info), P-34/P-35 (presence),
P-36 (history), recovery after reconnect (P-31 ``recovered``/``was_recovering``),
P-03/P-05 (protobuf protocol), AU-04 (invalid token → 3500).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.node_js import (
    SCENARIO_CHANNEL_OPTIONS,
    Runner,
    check_ok,
    ensure_packages,
    events_of,
    scenario_runner,
)
from support.server import ServerProcess
from support.tokens import connection_token

pytestmark = pytest.mark.node

SECRET = "js-test-secret-0123456789abcdef0123"

CONFIG: dict[str, Any] = {
    "client": {"token": {"hmac_secret_key": SECRET}},
    "channel": {
        "without_namespace": dict(SCENARIO_CHANNEL_OPTIONS),
        "namespaces": [{"name": "locked"}],
    },
}


@pytest.fixture(scope="module")
def js_runner(require_tool: Callable[[str], str]) -> Runner:
    """Install the Node package if needed; return ``run(scenario) -> report``."""
    node = require_tool("node")
    ensure_packages(require_tool("npm"), "centrifuge/package.json")
    return scenario_runner(node, "scenario.mjs")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module; tests use distinct channel names."""
    proc = ServerProcess(CONFIG, workdir=tmp_path_factory.mktemp("js-server"))
    proc.start()
    yield proc
    proc.cleanup()


def token(user: str) -> str:
    return connection_token(SECRET, user)


def test_connect_subscribe_publish_own_publication(
    js_runner: Runner, server: ServerProcess
) -> None:
    """P-30/P-31/P-33/P-42: token connect, subscribe, receive own publication with info."""
    ch = "js_pubsub"
    report = js_runner(
        {
            "url": server.ws_url(),
            "clients": {"a": {"token": token("alice")}},
            "steps": [
                {"op": "connect", "client": "a"},
                {"op": "subscribe", "client": "a", "channel": ch},
                {"op": "publish", "client": "a", "channel": ch, "data": {"text": "hi"}},
                {"op": "wait", "client": "a", "event": "publication", "channel": ch},
            ],
        }
    )
    check_ok(report, server)
    events = events_of(
        report, "a", "connecting", "connected", "subscribing", "subscribed", "publication"
    )
    # After these five, only the runner's final disconnect (subscribing, code 1) may follow.
    assert [e["event"] for e in events[:5]] == [
        "connecting",
        "connected",
        "subscribing",
        "subscribed",
        "publication",
    ]
    assert [(e["event"], e["code"]) for e in events[5:]] == [("subscribing", 1)]
    assert (events[0]["code"], events[0]["reason"]) == (0, "connect called")
    assert events[1]["transport"] == "websocket"
    assert events[1]["clientId"]
    sub = events[3]
    assert (sub["recoverable"], sub["wasRecovering"], sub["recovered"]) == (True, False, False)
    assert sub["streamPosition"]["offset"] == 0
    assert sub["streamPosition"]["epoch"]
    pub = events[4]
    assert pub["data"] == {"text": "hi"}
    assert pub["offset"] == 1
    assert pub["info"]["user"] == "alice"
    assert pub["info"]["client"] == events[1]["clientId"]
    assert report["results"][2] == {"op": "publish", "result": {}}


def test_presence_two_clients(js_runner: Runner, server: ServerProcess) -> None:
    """P-34/P-35: presence lists both connections, stats count 2 clients / 2 users."""
    ch = "js_presence"
    report = js_runner(
        {
            "url": server.ws_url(),
            "clients": {"a": {"token": token("alice")}, "b": {"token": token("bob")}},
            "steps": [
                {"op": "connect", "client": "a"},
                {"op": "connect", "client": "b"},
                {"op": "subscribe", "client": "a", "channel": ch},
                {"op": "subscribe", "client": "b", "channel": ch},
                {"op": "presence", "client": "a", "channel": ch},
                {"op": "presenceStats", "client": "b", "channel": ch},
            ],
        }
    )
    check_ok(report, server)
    ids = {c: events_of(report, c, "connected")[0]["clientId"] for c in ("a", "b")}
    clients = report["results"][4]["result"]["clients"]
    assert set(clients) == {ids["a"], ids["b"]}
    assert clients[ids["a"]]["user"] == "alice"
    assert clients[ids["b"]]["user"] == "bob"
    assert clients[ids["a"]]["client"] == ids["a"]
    assert report["results"][5]["result"] == {"numClients": 2, "numUsers": 2}


def test_history(js_runner: Runner, server: ServerProcess) -> None:
    """P-36: history in offset order; reverse with limit returns newest first."""
    ch = "js_history"
    publish = [{"op": "publish", "client": "a", "channel": ch, "data": {"n": n}} for n in (1, 2, 3)]
    report = js_runner(
        {
            "url": server.ws_url(),
            "clients": {"a": {"token": token("alice")}},
            "steps": [
                {"op": "connect", "client": "a"},
                {"op": "subscribe", "client": "a", "channel": ch},
                *publish,
                {"op": "history", "client": "a", "channel": ch, "limit": 10},
                {"op": "history", "client": "a", "channel": ch, "limit": 2, "reverse": True},
                {"op": "history", "client": "a", "channel": ch, "limit": 0},
            ],
        }
    )
    check_ok(report, server)
    full, rev, top = (r["result"] for r in report["results"][5:8])
    assert [(p["offset"], p["data"]) for p in full["publications"]] == [
        (1, {"n": 1}),
        (2, {"n": 2}),
        (3, {"n": 3}),
    ]
    assert full["offset"] == 3
    assert full["epoch"]
    assert [p["offset"] for p in rev["publications"]] == [3, 2]
    assert top["publications"] == []
    assert (top["offset"], top["epoch"]) == (3, full["epoch"])


def test_recovery_after_reconnect(js_runner: Runner, server: ServerProcess) -> None:
    """P-31 recovery: missed publications come back in order with recovered=true."""
    ch = "js_recovery"
    report = js_runner(
        {
            "url": server.ws_url(),
            "clients": {"a": {"token": token("alice")}, "b": {"token": token("bob")}},
            "steps": [
                {"op": "connect", "client": "a"},
                {"op": "connect", "client": "b"},
                {"op": "subscribe", "client": "a", "channel": ch},
                {"op": "publish", "client": "b", "channel": ch, "data": {"m": 1}},
                {"op": "wait", "client": "a", "event": "publication", "channel": ch, "count": 1},
                {"op": "disconnect", "client": "a"},
                {"op": "publish", "client": "b", "channel": ch, "data": {"m": 2}},
                {"op": "publish", "client": "b", "channel": ch, "data": {"m": 3}},
                {"op": "publish", "client": "b", "channel": ch, "data": {"m": 4}},
                {"op": "connect", "client": "a"},
                {"op": "wait", "client": "a", "event": "publication", "channel": ch, "count": 4},
            ],
        }
    )
    check_ok(report, server)
    events = events_of(report, "a", "subscribed", "publication", channel=ch)
    assert [e["event"] for e in events] == [
        "subscribed",
        "publication",
        "subscribed",
        "publication",
        "publication",
        "publication",
    ]
    first, resub = events[0], events[2]
    assert (first["wasRecovering"], first["recovered"]) == (False, False)
    assert (resub["wasRecovering"], resub["recovered"]) == (True, True)
    assert resub["streamPosition"]["epoch"] == first["streamPosition"]["epoch"]
    pubs = [e for e in events if e["event"] == "publication"]
    assert [(p["offset"], p["data"]) for p in pubs] == [
        (1, {"m": 1}),
        (2, {"m": 2}),
        (3, {"m": 3}),
        (4, {"m": 4}),
    ]


def test_protobuf_protocol(js_runner: Runner, server: ServerProcess) -> None:
    """P-03/P-05: the protobuf build of centrifuge-js connects, publishes and receives."""
    ch = "js_protobuf"
    report = js_runner(
        {
            "url": server.ws_url(),
            "clients": {
                "p": {"token": token("pb-user"), "protocol": "protobuf"},
                "q": {"token": token("pb-other"), "protocol": "protobuf"},
            },
            "steps": [
                {"op": "connect", "client": "p"},
                {"op": "connect", "client": "q"},
                {"op": "subscribe", "client": "p", "channel": ch},
                {"op": "subscribe", "client": "q", "channel": ch},
                {"op": "publish", "client": "p", "channel": ch, "data": "binary-hello"},
                {"op": "wait", "client": "q", "event": "publication", "channel": ch},
                {"op": "wait", "client": "p", "event": "publication", "channel": ch},
                {"op": "presenceStats", "client": "q", "channel": ch},
                {"op": "history", "client": "q", "channel": ch, "limit": 5},
            ],
        }
    )
    check_ok(report, server)
    for client in ("p", "q"):
        (pub,) = events_of(report, client, "publication", channel=ch)
        assert (pub["data"], pub["offset"]) == ("binary-hello", 1)
        assert pub["info"]["user"] == "pb-user"
    assert report["results"][7]["result"] == {"numClients": 2, "numUsers": 2}
    history = report["results"][8]["result"]
    assert [(p["offset"], p["data"]) for p in history["publications"]] == [(1, "binary-hello")]


@pytest.mark.parametrize(
    ("channel", "code", "reason"),
    [
        ("locked:room", 103, "permission denied"),  # P-90 step 10, E-103
        ("nope:room", 102, "unknown channel"),  # CH-04, E-102
    ],
)
def test_subscribe_error_codes(
    js_runner: Runner, server: ServerProcess, channel: str, code: int, reason: str
) -> None:
    """P-31/P-90: a non-temporary subscribe error ends as unsubscribed with the server code."""
    report = js_runner(
        {
            "url": server.ws_url(),
            "clients": {"a": {"token": token("alice")}},
            "steps": [
                {"op": "connect", "client": "a"},
                {"op": "subscribe", "client": "a", "channel": channel},
                {"op": "sleep", "ms": 200},
            ],
        }
    )
    check_ok(report, server)
    events = events_of(
        report, "a", "subscribing", "subscribed", "unsubscribed", "sub_error", channel=channel
    )
    assert [(e["event"], e.get("code"), e.get("reason")) for e in events] == [
        ("subscribing", 0, "subscribe called"),
        ("unsubscribed", code, reason),
    ]
    # The connection survives a subscribe error: the only disconnect is the final one.
    assert [e["code"] for e in events_of(report, "a", "disconnected")] == [0]


def test_invalid_connection_token(js_runner: Runner, server: ServerProcess) -> None:
    """AU-04: a token with a bad signature → disconnect 3500 "invalid token", no reconnect."""
    bad = connection_token("not-the-secret-0123456789abcdef0123", "alice")
    report = js_runner(
        {
            "url": server.ws_url(),
            "clients": {"a": {"token": bad}},
            "steps": [{"op": "connect", "client": "a"}, {"op": "sleep", "ms": 300}],
        }
    )
    check_ok(report, server)
    events = events_of(report, "a", "connecting", "connected", "disconnected")
    assert [(e["event"], e.get("code"), e.get("reason")) for e in events] == [
        ("connecting", 0, "connect called"),
        ("disconnected", 3500, "invalid token"),
    ]
