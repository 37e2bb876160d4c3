"""Cache recovery on subscribe (HR-08, CH-30) and ``auto_cache_recover`` (CH-31, HR-06),
driven through real sessions on the memory engine."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from session_harness import Client, make_node, token

from centripetal.core.hooks import ConnectResult, SubscribeOptions
from centripetal.node import Node

CACHE_NS: dict[str, Any] = {
    "history_size": 10,
    "history_ttl": "300s",
    "force_recovery": True,
    "force_recovery_mode": "cache",
    "allow_subscribe_for_client": True,
    "allow_publish_for_client": True,
}
NAMESPACES = [
    {"name": "cache", **CACHE_NS},
    {"name": "auto", **CACHE_NS, "auto_cache_recover": True},
    {"name": "stream", **{**CACHE_NS, "force_recovery_mode": "stream"}},
    {"name": "tagged", **CACHE_NS, "allow_tags_filter": True},
    {
        "name": "plain",
        "allow_subscribe_for_client": True,
        "history_size": 10,
        "history_ttl": "300s",
    },
]


def cache_node(extra: dict[str, Any] | None = None) -> Node:
    return make_node({"channel.namespaces": NAMESPACES, **(extra or {})})


async def publish(
    node: Node, channel: str, *values: int, tags: dict[str, str] | None = None
) -> None:
    opts = node.rules.options(channel)
    for n in values:
        await node.publish(channel, json.dumps({"n": n}).encode(), opts, tags=tags)


async def subscribed(node: Node, **request: Any) -> tuple[Client, dict[str, Any]]:
    c = Client(node)
    await c.connect(token())
    reply = await c.cmd(subscribe=request)
    assert "subscribe" in reply, reply
    return c, reply["subscribe"]


def data_and_offsets(result: dict[str, Any]) -> list[tuple[Any, int]]:
    return [(p["data"], p["offset"]) for p in result.get("publications", [])]


async def test_resubscribe_in_cache_mode_gets_only_the_latest_publication_hr08_ch30() -> None:
    node = cache_node()
    await publish(node, "cache:now", 1)
    first, res = await subscribed(node, channel="cache:now")
    epoch, seen = res["epoch"], res["offset"]
    assert seen == 1 and "publications" not in res and "was_recovering" not in res
    await first.cmd(unsubscribe={"channel": "cache:now"})
    await publish(node, "cache:now", 2, 3, 4)
    again = await first.cmd(
        subscribe={"channel": "cache:now", "recover": True, "offset": seen, "epoch": epoch}
    )
    res = again["subscribe"]
    assert data_and_offsets(res) == [({"n": 4}, 4)]  # not 2 and 3: only the latest counts
    assert res["recovered"] is True and res["was_recovering"] is True
    assert res["offset"] == 1 and res["epoch"] == epoch  # requested offset, stream epoch (HR-05)
    assert first.session.subs["cache:now"].last_offset == 4


async def test_same_request_in_stream_mode_gets_every_missed_publication_hr05() -> None:
    """The control case of the test above: the namespace mode is what changes the answer."""
    node = cache_node()
    await publish(node, "stream:now", 1)
    c, res = await subscribed(node, channel="stream:now")
    await c.cmd(unsubscribe={"channel": "stream:now"})
    await publish(node, "stream:now", 2, 3, 4)
    res = (
        await c.cmd(
            subscribe={"channel": "stream:now", "recover": True, "offset": 1, "epoch": res["epoch"]}
        )
    )["subscribe"]
    assert [o for _, o in data_and_offsets(res)] == [2, 3, 4]


async def test_cache_client_already_at_top_gets_nothing_but_recovered_hr08() -> None:
    node = cache_node()
    await publish(node, "cache:top", 1, 2)
    c, res = await subscribed(node, channel="cache:top")
    await c.cmd(unsubscribe={"channel": "cache:top"})
    res = (
        await c.cmd(
            subscribe={"channel": "cache:top", "recover": True, "offset": 2, "epoch": res["epoch"]}
        )
    )["subscribe"]
    assert "publications" not in res
    assert res["recovered"] is True and res["offset"] == 2


async def test_cache_recover_with_empty_since_gets_latest_hr08() -> None:
    """The documented client trigger: ``recover: true`` with no position (JS ``since: {}``)."""
    node = cache_node()
    await publish(node, "cache:kv", 5, 6)
    _, res = await subscribed(node, channel="cache:kv", recover=True)
    assert data_and_offsets(res) == [({"n": 6}, 2)]
    assert res["recovered"] is True and res["was_recovering"] is True
    assert "offset" not in res  # the requested offset 0, omitted on the wire (P-10)


async def test_cache_recover_from_another_epoch_still_gets_the_latest_hr08() -> None:
    node = cache_node()
    await publish(node, "cache:ep", 1)
    _, res = await subscribed(node, channel="cache:ep", recover=True, offset=1, epoch="otherone")
    assert data_and_offsets(res) == [({"n": 1}, 1)]  # the latest is the top: recovered
    assert res["recovered"] is True


async def test_cache_mode_fresh_subscriber_without_recover_gets_nothing_ch30() -> None:
    node = cache_node()
    await publish(node, "cache:fresh", 1, 2)
    _, res = await subscribed(node, channel="cache:fresh")
    assert "publications" not in res and "recovered" not in res
    assert "was_recovering" not in res and res["offset"] == 2


async def test_auto_cache_recover_fresh_subscriber_gets_the_latest_ch31() -> None:
    node = cache_node()
    await publish(node, "auto:kv", 1, 2, 3)
    c, res = await subscribed(node, channel="auto:kv")
    assert data_and_offsets(res) == [({"n": 3}, 3)]
    assert res["recovered"] is True and res["was_recovering"] is True  # HR-06
    assert res["recoverable"] is True and res["positioned"] is True
    assert c.session.subs["auto:kv"].last_offset == 3
    await publish(node, "auto:kv", 4)  # live delivery continues right after
    live = {"push": {"channel": "auto:kv", "pub": {"data": {"n": 4}, "offset": 4}}}
    assert c.sink.take() == [live]


async def test_auto_cache_recover_empty_stream_is_not_recovered_ch31() -> None:
    node = cache_node()
    _, res = await subscribed(node, channel="auto:empty")
    assert "publications" not in res and "recovered" not in res
    assert res["was_recovering"] is True


async def test_auto_cache_recover_client_at_top_gets_nothing_ch31() -> None:
    node = cache_node()
    await publish(node, "auto:top", 1)
    c, res = await subscribed(node, channel="auto:top")
    await c.cmd(unsubscribe={"channel": "auto:top"})
    res = (
        await c.cmd(
            subscribe={"channel": "auto:top", "recover": True, "offset": 1, "epoch": res["epoch"]}
        )
    )["subscribe"]
    assert "publications" not in res and res["recovered"] is True


async def test_auto_cache_recover_server_side_subscription_in_connect_reply_ch31() -> None:
    node = cache_node()
    await publish(node, "auto:ss", 7, 8)
    c = Client(node)
    res = (await c.connect(token(channels=["auto:ss", "cache:ss"])))["connect"]
    auto = res["subs"]["auto:ss"]
    assert data_and_offsets(auto) == [({"n": 8}, 2)]
    assert auto["recovered"] is True and auto["was_recovering"] is True
    assert "publications" not in res["subs"]["cache:ss"]  # cache mode alone: client must ask


async def test_auto_cache_recover_server_api_subscribe_pushes_latest_after_subscribe_ch31() -> None:
    node = cache_node()
    await publish(node, "auto:api", 1, 2)
    c = Client(node)
    await c.connect(token())
    c.sink.take()
    await c.session.server_subscribe("auto:api")
    pushes = c.sink.take()
    assert [next(k for k in p["push"] if k != "channel") for p in pushes] == ["subscribe", "pub"]
    assert pushes[1]["push"]["pub"] == {"data": {"n": 2}, "offset": 2}


async def test_cache_recovery_with_tags_filter_sends_newest_matching_hr08_hr14() -> None:
    node = cache_node()
    await publish(node, "tagged:t", 1, 2, tags={"kind": "goal"})
    await publish(node, "tagged:t", 3, tags={"kind": "foul"})
    tf = {"key": "kind", "cmp": "eq", "val": "goal"}
    c, res = await subscribed(node, channel="tagged:t", tf=tf, recover=True)
    assert data_and_offsets(res) == [({"n": 2}, 2)]  # one publication, the newest matching
    assert res["recovered"] is True  # the latest (offset 3) is the top
    assert c.session.subs["tagged:t"].last_offset == 3  # positioned at the top, not at 2


async def test_cache_mode_does_not_apply_without_recovery_ch30() -> None:
    """A namespace without recovery stays positionless; the mode has nothing to act on."""
    node = cache_node()
    await publish(node, "plain:x", 1)
    _, res = await subscribed(node, channel="plain:x", recover=True)
    assert res == {}


async def test_connect_proxy_cache_recover_px10_hr08(caplog: pytest.LogCaptureFixture) -> None:
    node = cache_node()
    await publish(node, "cache:p", 1, 2)
    await publish(node, "stream:p", 1, 2)

    async def connect_proxy(session: object, req: object) -> ConnectResult:
        subs: dict[str, SubscribeOptions | None] = {
            "cache:p": SubscribeOptions(cache_recover=True),
            "stream:p": SubscribeOptions(cache_recover=True),
        }
        return ConnectResult(user="42", subs=subs)

    node.connect_proxy = connect_proxy  # type: ignore[assignment]
    c = Client(node)
    with caplog.at_level(logging.WARNING, logger="centripetal.client"):
        res = (await c.connect())["connect"]
    assert data_and_offsets(res["subs"]["cache:p"]) == [({"n": 2}, 2)]
    assert res["subs"]["cache:p"]["recovered"] is True
    assert "publications" not in res["subs"]["stream:p"]  # not a cache-mode channel
    assert any(
        "cache_recover for channel 'stream:p'" in r.getMessage()
        and "force_recovery_mode 'cache'" in r.getMessage()
        for r in caplog.records
    )
