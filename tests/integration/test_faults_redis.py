"""Redis engine fault tests, scaled down for CI (reliability plan R-4, R-5; HR-03..HR-07, HR-12).

Two nodes share one ``redis-server``; recoverable centrifuge-python clients sit on node A while
a publisher sends ~50 msg/s through node B's server API with an ``idempotency_key`` per message
and retries until it gets a result (API-10, HR-12). Every client logs what it is told in order:
``subscribed`` (recovered, was_recovering, epoch, offset) and each publication (n, offset).

Invariants checked for every client:

* offsets are strictly consecutive within a stream position: a publication whose offset is not
  ``last + 1`` is a silent gap or a duplicate (HR-03); a ``recovered: true`` reply never spans
  an epoch change (HR-05);
* every publish that returned a result is delivered, unless a later ``recovered: false`` reply
  told the client that its position was lost (new epoch, or a position at or past it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from centrifuge import (
    Client,
    SubscriptionState,
)
from centrifuge.client import ClientState
from support.recovery import Event, Peer, Publisher, Recorder, api, wait_for
from support.redis import RedisServer
from support.server import ServerFactory
from support.timing import scaled
from support.tokens import connection_token

SECRET = "faults-redis-secret-0123456789abcdef0123"
CHANNEL = "rec:feed"
NUM_CLIENTS = 20
RATE = 50.0


def node_config(redis: RedisServer, *, presence_ttl: float = 60.0) -> dict[str, Any]:
    """Node config: recoverable namespace ``rec``, a short position check (HR-03)."""
    return {
        "client": {
            "token": {"hmac_secret_key": SECRET},
            "channel_position_check_delay": "2s",
            "presence_update_interval": "1s",
        },
        "http_api": {"insecure": True},
        "engine": {
            "type": "redis",
            "redis": {
                "address": [redis.url],
                "prefix": "faults",
                "presence_ttl": f"{presence_ttl:g}s",
            },
        },
        "channel": {
            "namespaces": [
                {
                    "name": "rec",
                    "allow_subscribe_for_client": True,
                    "presence": True,
                    "force_recovery": True,
                    "history_size": 2000,
                    "history_ttl": "300s",
                }
            ]
        },
    }


async def connect_peers(url: str, count: int, *, reconnect_delay: float = 0.1) -> list[Peer]:
    peers = []
    for i in range(count):
        rec = Recorder(f"u{i}")
        client = Client(
            url,
            events=rec,
            token=connection_token(SECRET, rec.user),
            timeout=scaled(5),
            min_reconnect_delay=reconnect_delay,
            max_reconnect_delay=max(1.0, reconnect_delay),
        )
        sub = client.new_subscription(CHANNEL, events=rec)
        await client.connect()
        await sub.subscribe()
        peers.append(Peer(client, sub, rec))
    await asyncio.wait_for(asyncio.gather(*(p.rec.subscribed.wait() for p in peers)), scaled(15))
    return peers


async def close_peers(peers: list[Peer]) -> None:
    for peer in peers:
        await peer.client.disconnect()


def stream_problems(log: list[Event]) -> list[str]:
    """Silent gaps, duplicates and recovered:true across an epoch change (HR-03, HR-05)."""
    problems: list[str] = []
    epoch: str | None = None
    last = 0
    for event in log:
        if event[0] == "sub":
            _, recovered, was_recovering, sub_epoch, offset = event
            if epoch is None or not recovered:
                epoch, last = sub_epoch, offset
            elif not was_recovering or sub_epoch != epoch:
                problems.append(f"recovered:true across {epoch!r} -> {sub_epoch!r}: {event}")
                epoch = sub_epoch
        else:
            _, n, offset = event
            if offset != last + 1:
                problems.append(f"n={n} offset {offset} after {last} (epoch {epoch!r})")
            last = offset
    return problems


def lost_acked(rec: Recorder, acked: dict[int, tuple[int, str]]) -> list[int]:
    """Acked publishes neither delivered nor covered by a later ``recovered: false`` reply."""
    delivered = set(rec.delivered())
    resets = [(e[3], e[4]) for e in rec.subs()[1:] if not e[1]]
    lost = []
    for n, (offset, epoch) in sorted(acked.items()):
        if n in delivered:
            continue
        told = any(r_epoch != epoch or r_offset >= offset for r_epoch, r_offset in resets)
        if not told:
            lost.append(n)
    return lost


def all_subscribed(peers: list[Peer]) -> bool:
    return all(
        p.client.state == ClientState.CONNECTED and p.sub.state == SubscriptionState.SUBSCRIBED
        for p in peers
    )


@pytest.fixture
def volatile_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:  # --save "" --appendonly no
        yield server


@pytest.fixture
def durable_redis() -> Iterator[RedisServer]:
    args = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")
    with RedisServer(args) as server:
        yield server


async def test_r4_redis_sigkill_without_persistence_no_silent_loss(
    server_factory: ServerFactory, volatile_redis: RedisServer
) -> None:
    """R-4: SIGKILL + restart of a non-persistent Redis while publishing: new epoch, every
    client told ``recovered: false``, 0 acked-and-silently-lost, both nodes keep serving."""
    loop = asyncio.get_running_loop()
    node_a = server_factory(node_config(volatile_redis))
    node_b = server_factory(node_config(volatile_redis))
    peers = await connect_peers(node_a.ws_url(), NUM_CLIENTS)
    first_epochs = {p.rec.subs()[0][3] for p in peers}
    assert len(first_epochs) == 1 and "" not in first_epochs
    (epoch0,) = first_epochs
    publisher = Publisher(node_b, CHANNEL, RATE)
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        await wait_for(lambda: len(publisher.acked) >= 50, 10, "50 acked publishes before the kill")
        await loop.run_in_executor(None, volatile_redis.kill9)
        await asyncio.sleep(1.0)
        await loop.run_in_executor(None, volatile_redis.start)
        await wait_for(
            lambda: any(e != epoch0 for _, e in publisher.acked.values()),
            15,
            "a publish acked in the new epoch (first publish after restart)",
        )
        await asyncio.sleep(3.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, scaled(30))

    new_epochs = {e for _, e in publisher.acked.values()} - {epoch0}
    assert len(new_epochs) == 1, new_epochs
    (epoch1,) = new_epochs
    assert publisher.given_up == []

    def converged() -> bool:
        return all_subscribed(peers) and all(
            any(not e[1] and e[3] == epoch1 for e in p.rec.subs()[1:])
            and lost_acked(p.rec, publisher.acked) == []
            for p in peers
        )

    # bounded; on timeout the assertions below say precisely what is wrong
    await wait_for(
        converged, 30, "every client resubscribed in the new epoch, none lost", strict=False
    )
    assert node_a.running and node_b.running
    for node in (node_a, node_b):
        assert "result" in await api(node, "info", {}), node.describe("info failed")
    for p in peers:
        assert p.client.state == ClientState.CONNECTED, p.rec.user
        assert p.sub.state == SubscriptionState.SUBSCRIBED, p.rec.user
        assert stream_problems(p.rec.log) == [], (p.rec.user, p.rec.subs())
        told = [e for e in p.rec.subs()[1:] if not e[1] and e[3] == epoch1]
        assert told, (p.rec.user, "never told recovered:false in the new epoch", p.rec.subs())
        assert all(e[2] for e in told), (p.rec.user, "resubscribe without recover", told)
        assert lost_acked(p.rec, publisher.acked) == [], (p.rec.user, p.rec.subs())
    await close_peers(peers)


async def test_r5_redis_aof_clean_restart_recovers_everything(
    server_factory: ServerFactory, durable_redis: RedisServer
) -> None:
    """R-5: Redis with ``appendfsync always`` stopped cleanly and restarted on the same dir
    while publishing: same epoch, every resubscribe ``recovered: true``, every acked publish
    delivered exactly once and in offset order (0 lost, 0 duplicates)."""
    loop = asyncio.get_running_loop()
    node_a = server_factory(node_config(durable_redis))
    node_b = server_factory(node_config(durable_redis))
    peers = await connect_peers(node_a.ws_url(), NUM_CLIENTS)
    (epoch0,) = {p.rec.subs()[0][3] for p in peers}
    publisher = Publisher(node_b, CHANNEL, RATE)
    stop = asyncio.Event()
    task = asyncio.create_task(publisher.run(stop))
    try:
        await wait_for(lambda: len(publisher.acked) >= 50, 10, "50 acked publishes before stop")
        await loop.run_in_executor(None, durable_redis.stop)
        await asyncio.sleep(1.0)
        await loop.run_in_executor(None, durable_redis.start)
        before = len(publisher.acked)
        await wait_for(lambda: len(publisher.acked) > before + 10, 15, "publishing to resume")
        # Every client's connection drops once (API-14 code 4000 reconnects, D-CUSTOM) while
        # the publisher goes on: the reconnect must recover what was published meanwhile.
        for p in peers:
            reply = await api(
                node_b, "disconnect", {"user": p.rec.user, "disconnect": {"code": 4000}}
            )
            assert reply == {"result": {}}, reply
        await asyncio.sleep(2.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, scaled(30))

    assert publisher.given_up == []
    assert {e for _, e in publisher.acked.values()} == {epoch0}
    expected = [n for n, _ in sorted(publisher.acked.items(), key=lambda kv: kv[1][0])]
    assert [publisher.acked[n][0] for n in expected] == list(range(1, len(expected) + 1))

    def converged() -> bool:
        return all_subscribed(peers) and all(p.rec.delivered() == expected for p in peers)

    # bounded; on timeout the assertions below say precisely what is wrong
    await wait_for(converged, 20, "every client subscribed with every acked publish", strict=False)
    for p in peers:
        subs = p.rec.subs()
        assert p.sub.state == SubscriptionState.SUBSCRIBED, p.rec.user
        assert len(subs) >= 2, (p.rec.user, "never resubscribed", subs)
        assert [(e[1], e[2], e[3]) for e in subs[1:]] == [(True, True, epoch0)] * (len(subs) - 1)
        assert stream_problems(p.rec.log) == [], (p.rec.user, subs)
        assert p.rec.delivered() == expected, p.rec.user
    await close_peers(peers)
