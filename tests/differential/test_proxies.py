"""HTTP proxies to an application backend, answer for answer against Centrifugo v6.9.1: what
the client gets, and the request bodies and headers the backend sees (PX-01..PX-15).

The backend (``differential/backend.py``) answers connect, refresh, subscribe, publish and rpc
from the table below; the conversation's transcript is followed by the requests it recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from differential.backend import Backend
from differential.conftest import Converse, conversation
from differential.harness import API_KEY, Send
from differential.servers import Pair


def _connect(body: dict[str, Any]) -> tuple[int, Any]:
    data = body.get("data") or {}
    if data.get("refuse"):
        return 200, {"error": {"code": 4000, "message": "refused by the backend"}}
    if data.get("disconnect"):
        return 200, {"disconnect": {"code": 4500, "reason": "go away"}}
    if data.get("status"):
        return int(data["status"]), {}
    return 200, {"result": {"user": "u-proxy", "info": {"role": "tester"}, "data": {"hi": 1}}}


def _subscribe(body: dict[str, Any]) -> tuple[int, Any]:
    if body.get("channel", "").endswith("deny"):
        return 200, {"error": {"code": 4003, "message": "not for you"}}
    return 200, {"result": {"info": {"seat": 3}}}


def _publish(body: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"result": {"data": {"rewritten": True}}}


def _rpc(body: dict[str, Any]) -> tuple[int, Any]:
    return 200, {"result": {"data": {"echo": body.get("data"), "method": body.get("method")}}}


BACKEND = Backend({"connect": _connect, "subscribe": _subscribe, "publish": _publish, "rpc": _rpc})

CONFIG: dict[str, Any] = {
    "client": {
        "proxy": {
            "connect": {"enabled": True, "endpoint": f"{BACKEND.url}/connect"},
        },
        "allowed_origins": ["*"],
    },
    "http_api": {"key": API_KEY},
    "channel": {
        "proxy": {
            "subscribe": {"endpoint": f"{BACKEND.url}/subscribe"},
            "publish": {"endpoint": f"{BACKEND.url}/publish"},
        },
        "without_namespace": {
            "subscribe_proxy_enabled": True,
            "publish_proxy_enabled": True,
        },
    },
    "rpc": {
        "proxy": {"endpoint": f"{BACKEND.url}/rpc"},
        "without_namespace": {"proxy_enabled": True},
    },
    "log": {"level": "error"},
}


@pytest.fixture(scope="module", autouse=True)
def backend() -> Iterator[Backend]:
    BACKEND.start()
    yield BACKEND
    BACKEND.stop()


@pytest.fixture
def converse_with_backend(pair: Pair, backend: Backend) -> Converse:
    """The conversation, then the requests the backend was sent, compared the same way."""
    backend.take()
    return conversation(pair, backend.take)


async def test_connect_proxy_result(converse_with_backend: Converse) -> None:
    await converse_with_backend([Send([{"id": 1, "connect": {"data": {"x": 1}, "name": "py"}}])])


async def test_connect_proxy_refusals(converse_with_backend: Converse) -> None:
    await converse_with_backend([Send([{"id": 1, "connect": {"data": {"refuse": True}}}])])
    await converse_with_backend([Send([{"id": 1, "connect": {"data": {"disconnect": True}}}])])
    await converse_with_backend([Send([{"id": 1, "connect": {"data": {"status": 500}}}])])


async def test_subscribe_publish_rpc_proxies(converse_with_backend: Converse) -> None:
    await converse_with_backend(
        [
            Send([{"id": 1, "connect": {}}]),
            Send([{"id": 2, "subscribe": {"channel": "px-a", "data": {"want": 1}}}]),
            Send([{"id": 3, "subscribe": {"channel": "px-deny"}}]),
            Send([{"id": 4, "publish": {"channel": "px-a", "data": {"text": "hi"}}}]),
            Send([{"id": 5, "rpc": {"method": "sum", "data": {"a": 1}}}]),
        ]
    )
