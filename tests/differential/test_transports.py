"""HTTP-streaming and SSE (TR-02, TR-03), answer for answer against Centrifugo v6.9.1: status,
content type and the messages streamed after a connect."""

from __future__ import annotations

import time

from differential.common import config, connect
from differential.conftest import Converse
from differential.harness import Stream

CONFIG = config(
    {"without_namespace": {"allow_subscribe_for_client": True}},
    {"allowed_origins": ["*"]},
    http_stream={"enabled": True},
    sse={"enabled": True},
)


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
