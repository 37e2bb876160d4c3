"""Limits, answer for answer against Centrifugo v6.9.1: subscriptions per client, channel name
length, message size (CH-04, P-12, SV-09)."""

from __future__ import annotations

from differential.common import config, connect
from differential.conftest import Converse
from differential.harness import Send

CONFIG = config(
    {
        "max_length": 20,
        "without_namespace": {"allow_subscribe_for_client": True, "allow_publish_for_client": True},
    },
    {"channel_limit": 2},
    websocket={"message_size_limit": 1024},
)


async def test_subscriptions_over_the_channel_limit(converse: Converse) -> None:
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "subscribe": {"channel": "lim-a"}}]),
            Send([{"id": 3, "subscribe": {"channel": "lim-b"}}]),
            Send([{"id": 4, "subscribe": {"channel": "lim-c"}}]),
        ]
    )


async def test_channel_names_at_and_over_max_length(converse: Converse) -> None:
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "subscribe": {"channel": "x" * 20}}]),
            Send([{"id": 3, "subscribe": {"channel": "y" * 21}}]),
            Send([{"id": 4, "publish": {"channel": "z" * 21, "data": 1}}]),
        ]
    )


async def test_a_message_over_the_size_limit(converse: Converse) -> None:
    await converse(
        [
            Send([connect()]),
            Send([{"id": 2, "publish": {"channel": "big", "data": "x" * 2000}}]),
        ]
    )
