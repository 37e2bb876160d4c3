"""Publication tags filter (HR-14, PF-30): validation, matching, delivery through a session."""

from __future__ import annotations

import pytest
from session_harness import Client, make_node, token

from centripetal.core.tags_filter import FilterError, matches, validate
from centripetal.protocol.messages import FilterNode as F

TAGS = {"kind": "goal", "team": "red", "minute": "42.5"}


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (F(key="kind", cmp="eq", val="goal"), True),
        (F(key="kind", cmp="eq", val="foul"), False),
        (F(key="absent", cmp="eq", val="x"), False),
        (F(key="kind", cmp="neq", val="foul"), True),
        (F(key="absent", cmp="neq", val="x"), True),
        (F(key="team", cmp="in", vals=["red", "blue"]), True),
        (F(key="team", cmp="nin", vals=["red"]), False),
        (F(key="team", cmp="ex"), True),
        (F(key="absent", cmp="nex"), True),
        (F(key="kind", cmp="sw", val="go"), True),
        (F(key="kind", cmp="ew", val="al"), True),
        (F(key="kind", cmp="ct", val="oa"), True),
        (F(key="minute", cmp="gt", val="42"), True),
        (F(key="minute", cmp="gte", val="42.5"), True),
        (F(key="minute", cmp="lt", val="42.5"), False),
        (F(key="minute", cmp="lte", val="43"), True),
        (F(key="kind", cmp="gt", val="1"), False),  # not a number: never matches
        (F(key="absent", cmp="lt", val="1"), False),
        (F(op="and", nodes=[F(key="kind", cmp="eq", val="goal"), F(key="team", cmp="ex")]), True),
        (
            F(op="or", nodes=[F(key="kind", cmp="eq", val="x"), F(key="team", cmp="eq", val="x")]),
            False,
        ),
        (F(op="not", nodes=[F(key="kind", cmp="eq", val="goal")]), False),
    ],
)
def test_matches(node: F, expected: bool) -> None:
    validate(node)
    assert matches(node, TAGS) is expected


@pytest.mark.parametrize(
    "node",
    [
        F(key="k", cmp="eq"),
        F(key="k", cmp="eq", val="a", vals=["b"]),
        F(key="k", cmp="in"),
        F(key="k", cmp="ex", val="a"),
        F(cmp="eq", val="a"),
        F(key="k", cmp="like", val="a"),
        F(op="and"),
        F(op="not", nodes=[F(key="a", cmp="ex"), F(key="b", cmp="ex")]),
        F(op="xor", nodes=[F(key="a", cmp="ex")]),
    ],
)
def test_invalid_filters(node: F) -> None:
    with pytest.raises(FilterError):
        validate(node)


def test_depth_is_bounded() -> None:
    node = F(key="a", cmp="ex")
    for _ in range(40):
        node = F(op="not", nodes=[node])
    with pytest.raises(FilterError):
        validate(node)


async def test_filtered_delivery_and_107_when_not_allowed() -> None:
    node = make_node(
        {
            "channel.namespaces": [
                {
                    "name": "ff",
                    "allow_subscribe_for_client": True,
                    "allow_tags_filter": True,
                    "history_size": 10,
                    "history_ttl": "60s",
                    "force_positioning": True,
                },
                {"name": "nff", "allow_subscribe_for_client": True},
            ]
        }
    )
    c = Client(node)
    await c.connect(token())
    tf = {"key": "kind", "cmp": "eq", "val": "goal"}
    assert (await c.cmd(subscribe={"channel": "nff:x", "tf": tf}))["error"]["code"] == 107
    assert (await c.cmd(subscribe={"channel": "ff:x", "tf": {"cmp": "eq"}}))["error"]["code"] == 107
    assert "subscribe" in await c.cmd(subscribe={"channel": "ff:x", "tf": tf})
    opts = node.rules.options("ff:x")
    await node.publish("ff:x", b'{"n":1}', opts, tags={"kind": "foul"})
    await node.publish("ff:x", b'{"n":2}', opts, tags={"kind": "goal"})
    pushes = c.sink.take()
    assert [p["push"]["pub"]["data"] for p in pushes] == [{"n": 2}]
    assert pushes[0]["push"]["pub"]["offset"] == 2
    assert c.sink.closed is None  # the skipped offset 1 is not a gap
