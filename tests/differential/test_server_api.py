"""The server HTTP API, answer for answer against Centrifugo v6.9.1 (API-01..API-23).

Status codes and bodies of ``POST /api/<method>`` and of the legacy ``POST /api`` shape:
results, error codes and messages, key checks, malformed bodies, unknown methods, batches.
"""

from __future__ import annotations

from typing import Any

from differential.conftest import Converse
from differential.harness import API_KEY, Api

CONFIG: dict[str, Any] = {
    "http_api": {"key": API_KEY},
    "channel": {
        "without_namespace": {"presence": True, "history_size": 10, "history_ttl": "300s"},
        "namespaces": [{"name": "nohist"}],
    },
    "log": {"level": "error"},
}


async def test_publish_and_its_position(converse: Converse) -> None:
    await converse(
        [
            Api("publish", {"channel": "p-a", "data": {"n": 1}}),
            Api("publish", {"channel": "p-a", "data": {"n": 2}, "idempotency_key": "k"}),
            Api("publish", {"channel": "p-a", "data": {"n": 3}, "idempotency_key": "k"}),
            Api("publish", {"channel": "nohist:p", "data": 1}),
            Api("publish", {"channel": "p-a", "data": 1, "skip_history": True}),
        ]
    )


async def test_publish_errors(converse: Converse) -> None:
    await converse(
        [
            Api("publish", {"data": {}}),
            Api("publish", {"channel": "p-b"}),
            Api("publish", {"channel": "unknown:x", "data": {}}),
            Api("publish", {"channel": "p-b", "b64data": "%%%"}),
            Api("publish", {"channel": "p-b", "data": {}, "tags": {"k": "v"}}),
        ]
    )


async def test_broadcast(converse: Converse) -> None:
    await converse(
        [
            Api("broadcast", {"channels": ["b-a", "nohist:b"], "data": {"x": 1}}),
            Api("broadcast", {"channels": [], "data": {"x": 1}}),
            Api("broadcast", {"channels": ["b-a", "unknown:b"], "data": {"x": 1}}),
        ]
    )


async def test_history_and_its_errors(converse: Converse) -> None:
    await converse(
        [
            Api("publish", {"channel": "h-a", "data": {"n": 1}}),
            Api("publish", {"channel": "h-a", "data": {"n": 2}}),
            Api("history", {"channel": "h-a", "limit": -1}),
            Api("history", {"channel": "h-a", "limit": 1, "reverse": True}),
            Api("history", {"channel": "h-a", "limit": 0}),
            Api("history", {"channel": "nohist:h", "limit": 1}),
            Api("history", {"channel": "h-a", "limit": 10, "since": {"offset": 1, "epoch": "x"}}),
            Api("history", {}),
            Api("history_remove", {"channel": "h-a"}),
            Api("history", {"channel": "h-a", "limit": -1}),
        ]
    )


async def test_presence_of_an_empty_channel(converse: Converse) -> None:
    await converse(
        [
            Api("presence", {"channel": "pr-a"}),
            Api("presence_stats", {"channel": "pr-a"}),
            Api("presence", {"channel": "nohist:pr"}),
            Api("presence", {}),
        ]
    )


async def test_commands_for_users_who_are_not_connected(converse: Converse) -> None:
    await converse(
        [
            Api("subscribe", {"user": "nobody", "channel": "s-a"}),
            Api("unsubscribe", {"user": "nobody", "channel": "s-a"}),
            Api("disconnect", {"user": "nobody"}),
            Api("refresh", {"user": "nobody"}),
            Api("subscribe", {"channel": "s-a"}),
            Api("disconnect", {}),
        ]
    )


async def test_channels(converse: Converse) -> None:
    await converse([Api("channels", {}), Api("channels", {"pattern": "x*"})])


async def test_keys_and_malformed_bodies(converse: Converse) -> None:
    await converse(
        [
            Api("publish", {"channel": "k-a", "data": 1}, key=None),
            Api("publish", {"channel": "k-a", "data": 1}, key="wrong"),
            Api("publish", raw=b"{not json"),
            Api("publish", raw=b""),
            Api("publish", raw=b"[]"),
            Api("no_such_method", {}),
        ]
    )


async def test_batch(converse: Converse) -> None:
    await converse(
        [
            Api(
                "batch",
                {
                    "commands": [
                        {"publish": {"channel": "bt-a", "data": 1}},
                        {"publish": {"channel": "unknown:x", "data": 1}},
                        {"history": {"channel": "bt-a", "limit": -1}},
                        {},
                    ]
                },
            ),
            Api("batch", {"commands": []}),
            Api("batch", {}),
        ]
    )


async def test_legacy_api_shape(converse: Converse) -> None:
    await converse(
        [
            Api("", {"method": "publish", "params": {"channel": "l-a", "data": {"x": 1}}}),
            Api("", {"method": "history", "params": {"channel": "l-a", "limit": -1}}),
            Api("", {"method": "unknown_method", "params": {}}),
            Api("", {"method": "publish", "params": {}}),
            Api("", raw=b"{broken"),
            Api("", {"id": 2, "method": 99, "params": {}}),
            Api("", {"method": "connections", "params": {}}),
            Api("", {"method": "Publish", "params": {"channel": "l-b", "data": 1}}),
            Api("", {"method": "batch", "params": {}}),
            Api("", {"method": 16, "params": {}}),
        ]
    )
