"""Automatic pipelining on a real redis-server (EN-03, EN-04, reliability plan §0.3).

``engines.redis.pipeline.Pipeline`` is exercised directly through a ``Shard``: what goes out in
one write, replies matched in order, error replies isolated to their caller, a broken or silent
connection failing only what was written on it, and a script cache flushed under the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from support.redis import NO_PERSISTENCE, RedisServer

from centripetal.engines.redis import Shard, Timeouts, parse_address
from centripetal.engines.redis.scripts import Script

NAME = "centripetal-pipeline-test"


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer([*NO_PERSISTENCE, "--enable-debug-command", "yes"]) as redis:
        yield redis


@pytest.fixture
async def shard(server: RedisServer) -> AsyncIterator[Shard]:
    server.cli("FLUSHALL")
    shard = Shard(parse_address(server.address), Timeouts(connect=1.0, io=0.5), NAME)
    try:
        yield shard
    finally:
        await shard.close()


async def test_commands_issued_together_go_out_in_one_write(shard: Shard) -> None:
    """1000 INCRs issued in one loop iteration: one write, replies 1..1000 in call order."""
    await shard.execute("PING", key="k")
    [pipeline] = shard.pipelines
    writes = pipeline.writes
    replies = await asyncio.gather(*(shard.execute("INCR", "n", key="n") for _ in range(1000)))
    assert replies == list(range(1, 1001))
    assert pipeline.writes - writes == 1
    assert pipeline.connections_opened == 1
    assert pipeline.pending == 0


async def test_more_than_a_batch_is_split_in_order(shard: Shard) -> None:
    """Over ``MAX_BATCH`` commands go out in several writes, still in order."""
    from centripetal.engines.redis.pipeline import MAX_BATCH

    n = MAX_BATCH * 2 + 5
    replies = await asyncio.gather(*(shard.execute("RPUSH", "l", i, key="l") for i in range(n)))
    assert replies == list(range(1, n + 1))
    assert await shard.execute("LRANGE", "l", 0, 2, key="l") == [b"0", b"1", b"2"]
    assert shard.pipelines[0].writes >= 3


async def test_an_error_reply_fails_only_its_caller(shard: Shard) -> None:
    """An error reply among many becomes ``ResponseError`` for that caller alone."""
    await shard.execute("SET", "s", "text", key="s")
    calls = [
        shard.execute("INCR", "s", key="s") if i == 3 else shard.execute("INCR", "i", key="i")
        for i in range(8)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[3], ResponseError)
    assert "not an integer" in str(results[3])
    assert [r for i, r in enumerate(results) if i != 3] == [1, 2, 3, 4, 5, 6, 7]


async def test_a_cancelled_caller_does_not_shift_the_replies(shard: Shard) -> None:
    """A caller that gives up still has its reply read: the next callers get their own."""
    await shard.execute("SET", "x", "1", key="x")
    [pipeline] = shard.pipelines
    first = pipeline.send("GET", "x")
    gone = pipeline.send("DEBUG", "SLEEP", "0.1")
    last = pipeline.send("INCR", "x")
    gone.cancel()
    assert await first == b"1"
    assert await last == 2
    assert await shard.execute("GET", "x", key="x") == b"2"


async def test_a_killed_connection_fails_what_was_written_and_reconnects(
    shard: Shard, server: RedisServer
) -> None:
    """The server closing the connection fails the command waiting on it with
    ``ConnectionError`` (it is not retried: ``retry=False``); the next command opens a new
    connection, named like the first."""
    await shard.execute("PING", key="k")
    [pipeline] = shard.pipelines
    waiting = asyncio.ensure_future(shard.execute("BLPOP", "never", 0, key="never", retry=False))
    await asyncio.sleep(0.1)
    assert server.cli("CLIENT", "KILL", "SKIPME", "no", "TYPE", "normal").strip() != "0"
    with pytest.raises(RedisConnectionError):
        await waiting
    assert await shard.execute("PING", key="k") in (b"PONG", "PONG", True)
    assert pipeline.connections_opened == 2
    assert NAME in server.cli("CLIENT", "LIST")


async def test_a_silent_server_times_out_and_the_pipeline_recovers(
    shard: Shard, server: RedisServer
) -> None:
    """No reply for ``io_timeout`` (0.5 s here): the connection is dropped and the waiting
    commands fail with ``TimeoutError``; later commands use a new connection."""
    await shard.execute("PING", key="k")
    [pipeline] = shard.pipelines
    with pytest.raises(RedisTimeoutError):
        await shard.execute("DEBUG", "SLEEP", "2", key="k", retry=False)
    await asyncio.sleep(2)  # the server is busy sleeping until then
    assert await shard.execute("INCR", "after", key="after") == 1
    assert pipeline.connections_opened == 2


async def test_a_flushed_script_cache_is_reloaded(shard: Shard, server: RedisServer) -> None:
    """NOSCRIPT (script cache flushed, Redis restarted): the script is loaded again and the
    call succeeds — for every caller of a batch that met it."""
    script = Script("return redis.call('INCR', KEYS[1])")
    assert await script.run(shard, ["c"], []) == 1
    server.cli("SCRIPT", "FLUSH")
    results = await asyncio.gather(*(script.run(shard, ["c"], []) for _ in range(5)))
    assert results == [2, 3, 4, 5, 6]


async def test_a_server_down_fails_fast_and_comes_back(server: RedisServer) -> None:
    """Nothing listening: commands fail with ``ConnectionError`` (no hang); once the server is
    back, the same shard works again."""
    server.stop()
    shard = Shard(parse_address(server.address), Timeouts(connect=1.0, io=0.5), NAME)
    try:
        with pytest.raises(RedisConnectionError):
            await shard.execute("PING", key="k")
        server.start()
        assert await shard.execute("INCR", "back", key="back") == 1
    finally:
        await shard.close()


async def test_readonly_counts_as_a_lost_connection(server: RedisServer) -> None:
    """A write answered ``READONLY`` (the server is a replica now, as after a Sentinel
    failover) drops the connection, so the next one is opened anew — through Sentinel, to the
    new master; reads still pass on a fresh connection."""
    server.cli("FLUSHALL")
    with RedisServer([*NO_PERSISTENCE, "--replicaof", "127.0.0.1", str(server.port)]) as replica:
        shard = Shard(parse_address(replica.address), Timeouts(connect=1.0, io=0.5), NAME)
        try:
            with pytest.raises(RedisConnectionError, match="READONLY"):
                await shard.execute("SET", "k", "v", key="k")
            [pipeline] = shard.pipelines
            assert pipeline.connections_opened == 2  # sent once more on a new connection
            assert await shard.execute("GET", "k", key="k") is None
            assert pipeline.connections_opened == 3
        finally:
            await shard.close()
