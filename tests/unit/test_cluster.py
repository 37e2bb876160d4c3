"""Control plane between nodes (EN-10): info exchange, commands and surveys over a control bus.

Two real nodes on memory engines; their ``publish_control`` is wired to each other's
``handle_control``, the way a shared broker's control channel connects them.
"""

from __future__ import annotations

import asyncio

from session_harness import Client, make_node, sub_token, token

from centripetal.cluster import Target
from centripetal.core.hooks import SubscribeOptions
from centripetal.node import Node


def link(*nodes: Node) -> None:
    for node in nodes:
        peers = [n for n in nodes if n is not node]

        async def publish_control(data: bytes, peers: list[Node] = peers) -> None:
            for peer in peers:
                peer.handle_control(data)

        node.broker.publish_control = publish_control  # type: ignore[method-assign]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_info_lists_every_live_node() -> None:
    a, b = make_node(), make_node()
    link(a, b)
    await a.cluster._publish(a.cluster.local_info())
    await b.cluster._publish(b.cluster.local_info())
    c = Client(b)
    await c.connect(token())
    uids = {n.uid for n in a.cluster.all_nodes()}
    assert uids == {a.uid, b.uid}
    assert {n.uid: n.num_clients for n in a.cluster.all_nodes()}[a.uid] == 0


async def test_new_node_learns_its_peers_at_once() -> None:
    """EN-10: a node's first info is answered by every peer that did not know it, so the new
    node lists them without waiting for their next periodic info; the exchange stops."""
    a, b, c = make_node(), make_node(), make_node()
    sent: list[str] = []
    link(a, b, c)
    for node in (a, b, c):
        forward = node.broker.publish_control

        async def counted(data: bytes, node: Node = node, forward: object = forward) -> None:
            sent.append(node.uid)
            await forward(data)  # type: ignore[operator]

        node.broker.publish_control = counted  # type: ignore[method-assign]
    await a.cluster._publish(a.cluster.local_info())
    await settle()
    assert set(a.cluster.nodes) == {b.uid, c.uid}
    assert set(b.cluster.nodes) >= {a.uid} and set(c.cluster.nodes) >= {a.uid}
    settled = len(sent)
    await settle()
    assert len(sent) == settled <= 9  # no endless replies


async def test_disconnect_reaches_connection_on_other_node() -> None:
    a, b = make_node(), make_node()
    link(a, b)
    on_b = Client(b)
    await on_b.connect(token("7"))
    await a.cluster.disconnect(Target("7"), 4500, "bye", [])
    await settle()
    assert on_b.sink.closed == (4500, "bye")


async def test_subscribe_and_unsubscribe_reach_other_node() -> None:
    a, b = make_node(), make_node()
    link(a, b)
    on_b = Client(b)
    await on_b.connect(token("7"))
    on_b.sink.take()
    await a.cluster.subscribe(Target("7"), "news", SubscribeOptions(), None)
    await settle()
    pushes = on_b.sink.take()
    assert pushes[0]["push"]["channel"] == "news"
    assert "subscribe" in pushes[0]["push"]
    assert "news" in on_b.session.subs
    await a.cluster.unsubscribe(Target("7"), "news")
    await settle()
    assert on_b.sink.take()[0] == {
        "push": {"channel": "news", "unsubscribe": {"code": 2000, "reason": "server unsubscribe"}}
    }


async def test_channels_survey_merges_nodes() -> None:
    a, b = make_node(), make_node()
    link(a, b)
    await b.cluster._publish(b.cluster.local_info())
    for node in (a, b):
        cl = Client(node)
        await cl.connect(token())
        await cl.cmd(subscribe={"channel": "room", "token": sub_token("room")})
    extra = Client(b)
    await extra.connect(token())
    await extra.cmd(subscribe={"channel": "only-b", "token": sub_token("only-b")})
    assert await a.cluster.channels() == {"room": 2, "only-b": 1}


async def test_own_and_garbage_control_messages_are_ignored() -> None:
    a = make_node()
    a.handle_control(b"\xc1garbage")
    assert a.cluster.nodes == {}
