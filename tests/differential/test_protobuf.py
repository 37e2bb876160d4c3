"""The client protocol in protobuf (``?cf_protocol=protobuf``), answer for answer against
Centrifugo v6.9.1: replies and pushes are compared in the JSON form of ``Reply`` (P-01..P-56,
PF-01..PF-06)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
from differential.conftest import Converse
from differential.harness import API_KEY, Api, SendPb

SECRET = "differential-secret-key-of-32-bytes!"

CONFIG: dict[str, Any] = {
    "client": {"token": {"hmac_secret_key": SECRET}},
    "http_api": {"key": API_KEY},
    "channel": {
        "without_namespace": {
            "allow_subscribe_for_client": True,
            "allow_publish_for_client": True,
            "history_size": 10,
            "history_ttl": "300s",
            "presence": True,
            "join_leave": True,
            "force_push_join_leave": True,
            "force_recovery": True,
        },
        "namespaces": [{"name": "closed"}],
    },
    "log": {"level": "error"},
}


def b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def connect(id_: int = 1, **claims: Any) -> dict[str, Any]:
    token = jwt.encode({"sub": "u1", **claims}, SECRET, algorithm="HS256")
    return {"id": id_, "connect": {"token": token}}


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
            SendPb([{"id": 4, "history": {"channel": "pb-a", "limit": -1}}]),
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
