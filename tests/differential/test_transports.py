"""HTTP-streaming and SSE (TR-02, TR-03), answer for answer against Centrifugo v6.9.1: status,
content type and the messages streamed after a connect."""

from __future__ import annotations

import time
from typing import Any

import jwt
from differential.conftest import Converse
from differential.harness import API_KEY, Stream

SECRET = "differential-secret-key-of-32-bytes!"

CONFIG: dict[str, Any] = {
    "client": {"token": {"hmac_secret_key": SECRET}, "allowed_origins": ["*"]},
    "http_api": {"key": API_KEY},
    "http_stream": {"enabled": True},
    "sse": {"enabled": True},
    "channel": {"without_namespace": {"allow_subscribe_for_client": True}},
    "log": {"level": "error"},
}


def connect(**claims: Any) -> dict[str, Any]:
    token = jwt.encode({"sub": "u1", **claims}, SECRET, algorithm="HS256")
    return {"id": 1, "connect": {"token": token}}


async def test_http_stream_connect(converse: Converse) -> None:
    await converse([Stream("http_stream", connect())])


async def test_sse_connect(converse: Converse) -> None:
    await converse([Stream("sse", connect())])


async def test_streams_refuse_an_expired_token(converse: Converse) -> None:
    expired = int(time.time()) - 60
    await converse(
        [Stream("http_stream", connect(exp=expired)), Stream("sse", connect(exp=expired))]
    )


async def test_streams_with_server_side_channels(converse: Converse) -> None:
    await converse(
        [
            Stream("http_stream", connect(channels=["news"])),
            Stream("sse", connect(channels=["news"])),
        ]
    )
