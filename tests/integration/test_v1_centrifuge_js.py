"""centrifuge-js 2.8.3 (client protocol v1) against centripetal, next to a centrifuge-js 5.x
client in the same channel (spec §2: L-02..L-13, L-15, L-59; TV-14; issue acceptance "a mixed
test"). JSON and protobuf (``?format=protobuf``, L-15)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.node_js import ensure_packages
from support.server import ServerProcess
from support.timing import scaled
from support.tokens import connection_token

pytestmark = pytest.mark.node

JS_DIR = Path(__file__).resolve().parent / "js"
SECRET = "v1-secret"
CONFIG: dict[str, Any] = {
    "client": {"token": {"hmac_secret_key": SECRET}},
    "channel": {
        "namespaces": [
            {
                "name": "mixed",
                "presence": True,
                "history_size": 10,
                "history_ttl": "300s",
                "allow_subscribe_for_client": True,
                "allow_publish_for_subscriber": True,
                "allow_presence_for_subscriber": True,
                "allow_history_for_subscriber": True,
            }
        ]
    },
}


@pytest.fixture(scope="module")
def node(require_tool: Callable[[str], str]) -> str:
    node_path = require_tool("node")
    ensure_packages(require_tool("npm"), "centrifuge2/package.json")
    return node_path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(CONFIG, workdir=tmp_path_factory.mktemp("v1-server"))
    proc.start()
    yield proc
    proc.cleanup()


@pytest.mark.parametrize("fmt", ["json", "protobuf"])
def test_v1_and_v2_clients_exchange_messages(node: str, server: ServerProcess, fmt: str) -> None:
    channel = f"mixed:{fmt}"
    spec = {
        "url": server.ws_url(),
        "channel": channel,
        "format": fmt,
        "oldToken": connection_token(SECRET, "old-user"),
        "newToken": connection_token(SECRET, "new-user"),
        "timeoutMs": int(scaled(10) * 1000),
    }
    proc = subprocess.run(
        [node, "v1_client.mjs"],
        cwd=JS_DIR,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=scaled(40),
        check=False,
    )
    text = f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    lines = proc.stdout.strip().splitlines()
    assert lines, server.describe(text)
    report = json.loads(lines[-1])
    assert report["ok"], server.describe(text)
    old, new = report["old"], report["new"]
    assert old["transport"] == "websocket"
    old_info = {"user": "old-user", "client": old["client"]}
    new_info = {"user": "new-user", "client": new["client"]}
    expected = [
        {"data": {"from": "old"}, "info": old_info},
        {"data": {"from": "new"}, "info": new_info},
    ]
    assert old["publications"] == expected  # L-06 pushes decoded by the 2.8.3 client
    assert new["publications"] == expected  # v2 pushes of a v1 publication
    assert old["publishResult"] == {}  # L-13
    assert old["presenceClients"] == sorted([old["client"], new["client"]])  # L-13
    assert old["presenceStats"] == {"numClients": 2, "numUsers": 2}
    assert old["history"] == [{"from": "old"}, {"from": "new"}]
    assert "disconnect" not in old or old["disconnect"]["reason"] == "client"
