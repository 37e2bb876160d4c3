"""``client.channel_position_max_time_lag`` (HR-03, SV-11): a publication that reaches the node
later than allowed is insufficient state for positioned subscribers. Clock-driven, no sleeps:
the hub's wall clock is pinned and publications carry the time they were published at."""

from __future__ import annotations

import asyncio
from typing import Any

from session_harness import Client, make_node, sub_token, token

from centripetal.engines.base import Publication, StreamPosition
from centripetal.node import Node

NOW = 1_700_000_000.0  # the pinned wall clock, seconds
NOW_MS = int(NOW * 1000)
UNSUBSCRIBED_2500 = {
    "push": {"channel": "g", "unsubscribe": {"code": 2500, "reason": "insufficient state"}}
}


def lag_node(max_lag: str | None = "2s") -> Node:
    overrides: dict[str, Any] = {}
    if max_lag is not None:
        overrides["client.channel_position_max_time_lag"] = max_lag
    node = make_node(overrides)
    node.hub.wall_clock = lambda: NOW
    return node


async def positioned_client(node: Node, channel: str = "g") -> Client:
    c = Client(node)
    await c.connect(token())
    await c.cmd(subscribe={"channel": channel, "token": sub_token(channel)})
    c.sink.take()
    return c


def deliver(node: Node, c: Client, published_ms: int, channel: str = "g") -> None:
    """The broker hands the node the next publication of ``channel``, stamped ``published_ms``."""
    sub = c.session.subs[channel]
    pub = Publication(data=b'{"n":1}', offset=sub.last_offset + 1, time=published_ms)
    node.handle_publication(channel, pub, StreamPosition(pub.offset, sub.epoch), False, None)


async def test_publication_later_than_max_lag_is_insufficient_state_hr03() -> None:
    node = lag_node("2s")
    c = await positioned_client(node)
    deliver(node, c, NOW_MS - 2_001)
    assert c.sink.take() == [UNSUBSCRIBED_2500]
    await asyncio.sleep(0)
    assert "g" not in c.session.subs


async def test_publication_within_max_lag_is_delivered_hr03() -> None:
    node = lag_node("2s")
    c = await positioned_client(node)
    deliver(node, c, NOW_MS - 2_000)  # exactly the allowed lag
    deliver(node, c, 0)  # no publish time: nothing to measure
    assert [m["push"]["pub"]["offset"] for m in c.sink.take()] == [1, 2]
    assert c.session.subs["g"].last_offset == 2


async def test_without_max_lag_old_publications_are_delivered_sv11() -> None:
    node = lag_node(None)  # default 0: not used, as in Centrifugo
    assert node.hub.max_time_lag_ms == 0
    assert node.handle_publication.__func__ is Node.handle_publication  # type: ignore[attr-defined]
    c = await positioned_client(node)
    deliver(node, c, NOW_MS - 3_600_000)
    assert [m["push"]["pub"]["offset"] for m in c.sink.take()] == [1]


async def test_lag_does_not_touch_subscribers_without_positioning_hr03() -> None:
    node = lag_node("2s")
    c = Client(node)
    await c.connect(token())
    await c.cmd(subscribe={"channel": "open:x"})
    c.sink.take()
    pub = Publication(data=b'{"n":1}', time=NOW_MS - 60_000)
    node.handle_publication("open:x", pub, StreamPosition(), False, None)
    assert c.sink.take() == [{"push": {"channel": "open:x", "pub": {"data": {"n": 1}}}}]


async def test_lagging_publication_disconnects_server_side_subscriber_3010_hr03() -> None:
    node = lag_node("2s")
    c = Client(node)
    await c.connect(token(channels=["g"]))
    deliver(node, c, NOW_MS - 5_000)
    assert c.sink.closed == (3010, "insufficient state")


async def test_real_publish_reaching_a_node_late_is_insufficient_state_hr03() -> None:
    """Through the memory broker: publications are stamped with the broker's wall clock; the
    node's clock runs 3 s ahead, as if PUB/SUB had delivered them 3 s late."""
    node = make_node({"client.channel_position_max_time_lag": "1s"})
    c = await positioned_client(node)
    await node.publish("g", b'{"n":1}', node.rules.options("g"))
    assert [m["push"]["pub"]["offset"] for m in c.sink.take()] == [1]
    clock = node.hub.wall_clock
    node.hub.wall_clock = lambda: clock() + 3.0
    await node.publish("g", b'{"n":2}', node.rules.options("g"))
    assert c.sink.take() == [UNSUBSCRIBED_2500]


async def test_buffered_publication_drained_after_subscribe_is_checked_too_hr03_hr07() -> None:
    """Publications buffered while subscribing are drained through ``deliver_to``: the lag
    rule applies there as well."""
    node = lag_node("2s")
    c = await positioned_client(node)
    sub = c.session.subs["g"]
    late = Publication(data=b"{}", offset=sub.last_offset + 1, time=NOW_MS - 2_500)
    node.hub.deliver_to(sub, late, StreamPosition(late.offset, sub.epoch))
    assert c.sink.take() == [UNSUBSCRIBED_2500]
