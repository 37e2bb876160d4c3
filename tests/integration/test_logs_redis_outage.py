"""Logs stay readable during an engine outage (reliability plan R-4; API-10 broker error 100).

With the Redis engine and Redis stopped, 500 server API publishes all answer error 100 (a
real internal failure) and the server log gains a handful of lines for them: one line with
the reason, then one summary with the count of the repeats - no traceback at the default
``info`` level. At ``debug`` level the traceback of the first failure is there.
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.hostile import Record
from support.redis import RedisServer
from support.server import ServerFactory, ServerProcess
from support.timing import scaled

PUBLISHES = 500
WINDOW = 10.0  # observability.logs.WINDOW


def node_config(redis: RedisServer, level: str) -> dict[str, Any]:
    return {
        "log": {"level": level},
        "http_api": {"insecure": True},
        "engine": {"type": "redis", "redis": {"address": [redis.url], "prefix": "logs"}},
        "channel": {"namespaces": [{"name": "chat", "history_size": 10, "history_ttl": "60s"}]},
    }


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


def publish_many(server: ServerProcess, count: int) -> list[dict[str, Any]]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=scaled(10))
    body = json.dumps({"channel": "chat:index", "data": {"text": "hi"}}).encode()
    out = []
    try:
        for _ in range(count):
            conn.request("POST", "/api/publish", body=body)
            resp = conn.getresponse()
            assert resp.status == 200
            out.append(json.loads(resp.read()))
    finally:
        conn.close()
    return out


def outage_lines(server: ServerProcess, redis: RedisServer) -> tuple[list[str], str]:
    """Publish once with Redis up, stop Redis, publish 500 times, wait for the window to
    end; the log lines written meanwhile and the whole log."""
    assert "result" in publish_many(server, 1)[0]
    redis.stop()
    before = len(server.log_text().splitlines())
    started = time.monotonic()
    replies = publish_many(server, PUBLISHES)
    assert [r.get("error", {}).get("code") for r in replies] == [100] * PUBLISHES
    time.sleep(max(0.0, started + WINDOW + 1.5 - time.monotonic()))
    text = server.log_text()
    return text.splitlines()[before:], text


def test_500_failed_publishes_log_a_handful_of_lines_r4(
    server_factory: ServerFactory, redis: RedisServer, record_property: Record
) -> None:
    server = server_factory(node_config(redis, "info"))
    lines, text = outage_lines(server, redis)
    publish = [line for line in lines if "publish to 'chat:index'" in line]
    record_property("failed_publishes", PUBLISHES)
    record_property("log_lines", len(lines))
    record_property("publish_lines", len(publish))
    record_property("tracebacks", text.count("Traceback"))
    assert len(publish) == 2, "\n".join(lines)
    first, summary = publish
    assert " ERROR " in first
    assert re.search(r"publish to 'chat:index' failed: redis: \w+", first), first
    counted = re.search(r"repeated (\d+) more times in the last 10s", summary)
    assert counted is not None and int(counted.group(1)) == PUBLISHES - 1, summary
    assert len(lines) <= 10, "\n".join(lines)  # with the pubsub reconnect lines
    assert "Traceback" not in text


def test_debug_level_shows_the_traceback_r4(
    server_factory: ServerFactory, redis: RedisServer
) -> None:
    server = server_factory(node_config(redis, "debug"))
    lines, text = outage_lines(server, redis)
    assert any("publish to 'chat:index' failed" in line for line in lines)
    assert "Traceback (most recent call last)" in text
    assert "traceback of: publish to 'chat:index' failed" in text
