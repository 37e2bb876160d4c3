"""Single-connection mode of the personal channel (SV-14, PR-06, D-3504): a user's new
connection disconnects its older ones with 3504, on this node and on other nodes."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from session_harness import Client, make_node, token
from test_cluster import link, settle

from centripetal.engines.base import EngineError, PresenceStats
from centripetal.node import Node

SINGLE = {"client.subscribe_to_user_personal_channel": {"enabled": True, "single_connection": True}}


def single_node() -> Node:
    return make_node(SINGLE)  # without_namespace has presence on (validated, CH-62)


async def connected(node: Node, user: str = "42") -> Client:
    c = Client(node)
    reply = await c.connect(token(user))
    assert "connect" in reply, reply
    return c


async def test_new_connection_disconnects_the_older_one_3504_pr06() -> None:
    node = single_node()
    old = await connected(node)
    new = await connected(node)
    await settle()
    assert old.sink.closed == (3504, "connection limit")
    assert new.sink.closed is None
    await old.session.on_transport_closed()
    assert set(await node.presence_manager.presence("#42")) == {new.session.client_id}
    assert node.user_connection_count("42") == 1


async def test_every_older_connection_goes_and_the_newest_stays_pr06() -> None:
    node = single_node()
    clients = [await connected(node) for _ in range(3)]
    await settle()
    assert [c.sink.closed for c in clients] == [
        (3504, "connection limit"),
        (3504, "connection limit"),
        None,
    ]


async def test_other_users_and_first_connection_untouched_pr06() -> None:
    node = single_node()
    a = await connected(node, "1")
    b = await connected(node, "2")
    await settle()
    assert a.sink.closed is None and b.sink.closed is None


async def test_without_single_connection_both_stay_sv14() -> None:
    node = make_node({"client.subscribe_to_user_personal_channel": {"enabled": True}})
    first = await connected(node)
    second = await connected(node)
    await settle()
    assert first.sink.closed is None and second.sink.closed is None


async def test_anonymous_connections_are_not_limited_pr06() -> None:
    node = make_node({**SINGLE, "client.allow_anonymous_connect_without_token": True})
    first, second = Client(node), Client(node)
    await first.connect()
    await second.connect()
    await settle()
    assert first.sink.closed is None and second.sink.closed is None


async def test_older_connection_on_another_node_gets_3504_pr06() -> None:
    """Two nodes sharing presence (as with one Redis engine) and a control channel."""
    a, b = single_node(), single_node()
    b.presence_manager = a.presence_manager
    link(a, b)
    on_a = await connected(a)
    on_b = await connected(b)
    await settle()
    assert on_a.sink.closed == (3504, "connection limit")
    assert on_b.sink.closed is None


class _BrokenPresence:
    """A presence manager whose stats call fails (engine unreachable)."""

    def __init__(self, real: object) -> None:
        self._real = real

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    async def presence_stats(self, channel: str) -> PresenceStats:
        raise EngineError("presence engine down")


async def test_presence_failure_closes_the_new_connection_3004_pr06(
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = single_node()
    node.presence_manager = _BrokenPresence(node.presence_manager)  # type: ignore[assignment]
    c = Client(node)
    with caplog.at_level(logging.WARNING, logger="centripetal.client"):
        await c.send(json.dumps({"id": 1, "connect": {"token": token()}}))
    assert c.sink.closed == (3004, "internal server error")
    assert "single connection check of user '42' failed" in caplog.text
    await asyncio.sleep(0)
    assert len(node.timers) == 0  # no ping/expiry timers left behind for a closed session
