"""The client protocol in protobuf (``?cf_protocol=protobuf``), answer for answer against
Centrifugo v6.9.1: replies and pushes are compared in the JSON form of ``Reply`` (P-01..P-56,
PF-01..PF-06)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from differential.common import OPEN, config, connect
from differential.conftest import Converse
from differential.harness import Api, SendPb

CONFIG = config({"without_namespace": OPEN, "namespaces": [{"name": "closed"}]})


def b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


async def test_connect_and_errors(converse: Converse) -> None:
    expired = int(time.time()) - 60
    await converse([SendPb([connect(exp=expired)])])
    await converse([SendPb([connect()]), SendPb([{"id": 2, "subscribe": {"channel": "closed:x"}}])])


async def test_subscribe_publish_history_presence(converse: Converse) -> None:
    await converse(
        [
            SendPb([connect()]),
            SendPb([{"id": 2, "subscribe": {"channel": "pb-a"}}]),
            SendPb([{"id": 3, "publish": {"channel": "pb-a", "data": b64({"n": 1})}}]),
            SendPb([{"id": 7, "publish": {"channel": "pb-a", "data": b64({"n": 2})}}]),
            # the newest only: Centrifugo's memory engine keeps an epoch on the first one
            # (tests/differential/known.py)
            SendPb([{"id": 4, "history": {"channel": "pb-a", "limit": 1, "reverse": True}}]),
            SendPb([{"id": 5, "presence_stats": {"channel": "pb-a"}}]),
            Api("publish", {"channel": "pb-a", "data": {"from": "api"}}),
            SendPb([{"id": 6, "unsubscribe": {"channel": "pb-a"}}]),
        ]
    )


async def test_several_commands_in_one_frame(converse: Converse) -> None:
    await converse(
        [
            SendPb(
                [
                    connect(),
                    {"id": 2, "subscribe": {"channel": "pb-b"}},
                    {"id": 3, "publish": {"channel": "pb-b", "data": b64("x")}},
                    {"id": 4, "rpc": {"method": "m"}},
                ]
            )
        ]
    )
