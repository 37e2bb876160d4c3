"""``client.concurrency`` in the session layer, with no sockets (spec P-26, P-27, SV-09).

The RPC and subscribe proxies are the node's hook seams (``node.rpc_proxy``,
``node.subscribe_proxy``) answering after a delay the test chooses; the real HTTP proxy is
exercised in integration/test_python_client.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from session_harness import Client, make_node, token
from support.timing import scaled

from centripetal.core.errors import DisconnectRequest
from centripetal.core.hooks import SubscribeResult
from centripetal.node import Node
from centripetal.protocol import messages
from centripetal.transports.concurrency import ConcurrentCommands, enable_concurrency
from centripetal.transports.dispatch import handle_frame


class SlowRPC:
    """An RPC hook: ``{"delay": seconds}`` answers ``{"n": n}`` after that delay; records
    how many calls are in flight at most."""

    def __init__(self) -> None:
        self.active = 0
        self.most = 0
        self.states: list[int] = []

    async def __call__(self, session: Any, req: messages.RPCRequest) -> bytes:
        self.states.append(session.state)
        params = json.loads(req.data or b"{}")
        if params.get("disconnect"):
            raise DisconnectRequest(4001, "told to")
        self.active += 1
        self.most = max(self.most, self.active)
        try:
            await asyncio.sleep(params.get("delay", 0))
        finally:
            self.active -= 1
        return json.dumps({"n": params.get("n")}).encode()


def node_with(concurrency: int, **overrides: Any) -> tuple[Node, SlowRPC]:
    node = make_node({"client.concurrency": concurrency, **overrides})
    rpc = SlowRPC()
    node.rpc_proxy = rpc  # type: ignore[assignment]
    return node, rpc


async def connected(node: Node) -> Client:
    c = Client(node)
    enable_concurrency(c.session, node.config)
    await c.connect(token())
    return c


def rpc_frame(delays: list[float], first_id: int = 10) -> list[messages.Command]:
    lines = [
        json.dumps({"id": first_id + i, "rpc": {"method": "m", "data": {"delay": d, "n": i}}})
        for i, d in enumerate(delays)
    ]
    return Client(make_node()).codec.decode_commands("\n".join(lines).encode())


async def settle(c: Client) -> None:
    runner = c.session.runner
    assert isinstance(runner, ConcurrentCommands)
    await asyncio.wait_for(runner.settle(), scaled(5))


def reply_ids(c: Client) -> list[int]:
    return [m["id"] for m in c.sink.take() if "id" in m]


async def test_concurrency_0_and_1_keep_the_sequential_path_p27() -> None:
    for value in (0, 1):
        node, rpc = node_with(value)
        c = await connected(node)
        assert c.session.runner is None
        started = time.monotonic()
        await handle_frame(c.session, rpc_frame([0.05, 0.01, 0.03]))
        elapsed = time.monotonic() - started
        assert reply_ids(c) == [10, 11, 12]  # in command order (P-26)
        assert rpc.most == 1
        assert elapsed >= 0.09  # the sum of the delays


async def test_concurrent_rpcs_overlap_and_reply_as_they_finish_p26_p27() -> None:
    node, rpc = node_with(4)
    c = await connected(node)
    started = time.monotonic()
    await handle_frame(c.session, rpc_frame([0.3, 0.2, 0.1, 0.0]))
    assert time.monotonic() - started < 0.25  # started, not waited for (0.3 s)
    await settle(c)
    elapsed = time.monotonic() - started
    replies = [m for m in c.sink.take() if "id" in m]
    assert [r["id"] for r in replies] == [13, 12, 11, 10]  # the shortest first
    assert {r["id"]: r["rpc"]["data"]["n"] for r in replies} == {10: 0, 11: 1, 12: 2, 13: 3}
    assert rpc.most == 4
    assert 0.28 <= elapsed < 0.3 + scaled(0.2)  # the longest, not the sum (0.6)


async def test_never_more_than_n_commands_in_flight_p27() -> None:
    node, rpc = node_with(3)
    c = await connected(node)
    runner = c.session.runner
    assert isinstance(runner, ConcurrentCommands)
    started = time.monotonic()
    frame = asyncio.ensure_future(handle_frame(c.session, rpc_frame([0.1] * 10)))
    while not frame.done():
        assert len(runner.tasks) <= 3
        await asyncio.sleep(0.01)
    await settle(c)
    elapsed = time.monotonic() - started
    assert rpc.most == 3
    assert sorted(reply_ids(c)) == list(range(10, 20))
    assert elapsed >= 0.39  # four rounds of 0.1 s: 3 + 3 + 3 + 1


async def test_connect_runs_alone_before_the_rest_of_its_frame_p22() -> None:
    node, rpc = node_with(8)
    c = Client(node)
    enable_concurrency(c.session, node.config)
    frame = "\n".join(
        [json.dumps({"id": 1, "connect": {"token": token()}})]
        + [json.dumps({"id": 2 + i, "rpc": {"method": "m", "data": {"n": i}}}) for i in range(3)]
    )
    await handle_frame(c.session, c.codec.decode_commands(frame.encode()))
    await settle(c)
    assert reply_ids(c)[0] == 1
    assert rpc.states == [1, 1, 1]  # every rpc saw a connected session


async def test_commands_without_a_concurrent_kind_stay_inline_and_ordered() -> None:
    """Without an RPC proxy or the RPC ping, rpc is answered inline (108), as Centrifugo
    answers it without a handler; unsubscribe and pongs never run in a task."""
    node = make_node({"client.concurrency": 4})
    c = await connected(node)
    frame = (
        "\n".join(json.dumps({"id": 10 + i, "rpc": {"method": "m"}}) for i in range(3))
        + '\n{"id":13,"unsubscribe":{"channel":"x"}}'
    )
    await handle_frame(c.session, c.codec.decode_commands(frame.encode()))
    runner = c.session.runner
    assert isinstance(runner, ConcurrentCommands)
    assert not runner.tasks
    out = c.sink.take()
    assert [m["id"] for m in out] == [10, 11, 12, 13]
    assert [m["error"]["code"] for m in out[:3]] == [108, 108, 108]


class SlowSubscribe:
    """A subscribe hook that answers after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def __call__(self, *args: Any) -> SubscribeResult:
        await asyncio.sleep(self.delay)
        return SubscribeResult()


def proxied_node(concurrency: int, channel_limit: int = 128) -> Node:
    node = make_node(
        {
            "client.concurrency": concurrency,
            "client.channel_limit": channel_limit,
            "channel.namespaces": [{"name": "px", "subscribe_proxy_enabled": True}],
        }
    )
    node.subscribe_proxy = SlowSubscribe(0.1)  # type: ignore[assignment]
    return node


async def test_subscribe_in_flight_reserves_its_channel_105_p31() -> None:
    c = await connected(proxied_node(4))
    frame = '{"id":10,"subscribe":{"channel":"px:a"}}\n{"id":11,"subscribe":{"channel":"px:a"}}'
    await handle_frame(c.session, c.codec.decode_commands(frame.encode()))
    await settle(c)
    out = {m["id"]: m for m in c.sink.take() if "id" in m}
    assert out[11]["error"]["code"] == 105
    assert "subscribe" in out[10]
    assert list(c.session.subs) == ["px:a"]


async def test_subscribes_in_flight_count_towards_the_channel_limit_106() -> None:
    c = await connected(proxied_node(4, channel_limit=2))
    frame = "\n".join(
        json.dumps({"id": 10 + i, "subscribe": {"channel": f"px:{i}"}}) for i in range(3)
    )
    await handle_frame(c.session, c.codec.decode_commands(frame.encode()))
    await settle(c)
    out = {m["id"]: m for m in c.sink.take() if "id" in m}
    assert out[12]["error"]["code"] == 106
    assert sorted(c.session.subs) == ["px:0", "px:1"]


async def test_unsubscribe_waits_for_the_subscribe_in_flight() -> None:
    c = await connected(proxied_node(4))
    frame = '{"id":10,"subscribe":{"channel":"px:a"}}\n{"id":11,"unsubscribe":{"channel":"px:a"}}'
    await handle_frame(c.session, c.codec.decode_commands(frame.encode()))
    await settle(c)
    assert reply_ids(c) == [10, 11]
    assert c.session.subs == {}
    assert not c.session.node.hub.subscribers("px:a")
    assert not c.session.runner.subscribing  # type: ignore[union-attr]


async def test_a_disconnect_cancels_the_commands_in_flight_and_releases_everything() -> None:
    node = proxied_node(4)
    node.subscribe_proxy = SlowSubscribe(0.5)  # type: ignore[assignment]
    node.rpc_proxy = SlowRPC()  # type: ignore[assignment]
    c = await connected(node)
    frame = "\n".join(
        [
            json.dumps({"id": 10, "rpc": {"method": "m", "data": {"delay": 5}}}),
            json.dumps({"id": 11, "subscribe": {"channel": "px:late"}}),
            json.dumps({"id": 12, "rpc": {"method": "m", "data": {"disconnect": True}}}),
        ]
    )
    started = time.monotonic()
    await handle_frame(c.session, c.codec.decode_commands(frame.encode()))
    await settle(c)
    await asyncio.sleep(0.6)  # past the subscribe's answer: it must not land
    assert time.monotonic() - started < scaled(2)
    assert c.sink.closed == (4001, "told to")
    assert reply_ids(c) == []  # nothing answered after the disconnect
    runner = c.session.runner
    assert isinstance(runner, ConcurrentCommands)
    assert not runner.tasks and not runner.subscribing
    assert c.session.subs == {}
    assert not node.hub.subscribers("px:late")
    assert node.user_connection_count("42") == 0


async def test_transport_gone_cancels_in_flight_work() -> None:
    node, rpc = node_with(2)
    c = await connected(node)
    await handle_frame(c.session, rpc_frame([5, 5]))
    assert rpc.active == 0  # not started yet: tasks run on the next loop turn
    await asyncio.sleep(0.05)
    assert rpc.active == 2
    await asyncio.wait_for(c.session.on_transport_closed(), scaled(1))
    assert rpc.active == 0
    runner = c.session.runner
    assert isinstance(runner, ConcurrentCommands)
    assert not runner.tasks
