"""Node crash behind a real nginx, scaled down for CI (reliability plan R-9b; HR-03..HR-05, PR-01).

Two nodes share one Redis behind nginx (round-robin, WebSocket upgrade). Recoverable
centrifuge-python clients connect through nginx and spread over both nodes (API ``info``
``num_clients``). Node A is killed with SIGKILL while a publisher keeps publishing through node
B's API: A's clients reconnect to B through nginx and resubscribe with ``recovered: true`` and
nothing lost, and presence on B drops A's client ids within ``engine.redis.presence_ttl``.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from centrifuge import (
    Client,
    SubscriptionState,
)
from centrifuge.client import ClientState
from support.nginx import NginxServer
from support.ports import free_port
from support.recovery import Peer, Publisher, Recorder, api, wait_for
from support.redis import RedisServer
from support.server import ServerFactory
from support.timing import scaled
from support.tokens import connection_token

SECRET = "faults-nginx-secret-0123456789abcdef0123"
CHANNEL = "rec:feed"
NUM_CLIENTS = 20
RATE = 50.0
PRESENCE_TTL = 5.0


def node_config(redis: RedisServer, name: str) -> dict[str, Any]:
    """A node with a short presence TTL (EN-03) refreshed every second (PR-01)."""
    return {
        "node": {"name": name},
        "client": {
            "token": {"hmac_secret_key": SECRET},
            "presence_update_interval": "1s",
            "channel_position_check_delay": "2s",
        },
        "http_api": {"insecure": True},
        "engine": {
            "type": "redis",
            "redis": {
                "address": [redis.url],
                "prefix": "r9b",
                "presence_ttl": f"{PRESENCE_TTL:g}s",
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


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


async def test_r9b_sigkill_node_behind_nginx_clients_recover_on_other_node(
    server_factory: ServerFactory, redis_server: RedisServer
) -> None:
    """R-9b: SIGKILL node A behind nginx: A's clients reconnect to B through nginx with
    ``recovered: true`` and 0 lost publications; A's presence entries expire on B."""
    node_a = server_factory(node_config(redis_server, "node-a"), port=free_port())
    node_b = server_factory(node_config(redis_server, "node-b"), port=free_port())
    upstreams = [(node_a.host, node_a.port), (node_b.host, node_b.port)]
    with NginxServer(upstreams, read_timeout=60.0) as nginx:
        peers: list[Peer] = []
        for i in range(NUM_CLIENTS):
            rec = Recorder(f"u{i}")
            client = Client(
                nginx.ws_url(),
                events=rec,
                token=connection_token(SECRET, rec.user),
                timeout=scaled(5),
                min_reconnect_delay=0.2,
                max_reconnect_delay=1.0,
            )
            sub = client.new_subscription(CHANNEL, events=rec)
            await client.connect()
            await sub.subscribe()
            peers.append(Peer(client, sub, rec))
        await asyncio.wait_for(
            asyncio.gather(*(p.rec.subscribed.wait() for p in peers)), scaled(15)
        )

        async def spread() -> bool:
            nodes = (await api(node_b, "info", {}))["result"]["nodes"]
            counts = {n["name"]: n["num_clients"] for n in nodes}
            return sorted(counts) == ["node-a", "node-b"] and sum(counts.values()) == NUM_CLIENTS

        await wait_for(spread, 15, "info on B listing both nodes with every client")
        nodes = (await api(node_b, "info", {}))["result"]["nodes"]
        counts = {n["name"]: n["num_clients"] for n in nodes}
        assert counts["node-a"] > 0 and counts["node-b"] > 0, counts
        on_a = counts["node-a"]
        first_ids = {p.rec.user: p.rec.client_ids[0] for p in peers}

        publisher = Publisher(node_b, CHANNEL, RATE)
        stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(stop))
        try:
            await asyncio.sleep(2.0)
            assert node_a.pid is not None
            os.kill(node_a.pid, signal.SIGKILL)  # our own child: a node crash
            await asyncio.sleep(3.0)
        finally:
            stop.set()
            await asyncio.wait_for(task, scaled(30))
        assert publisher.given_up == []
        epochs = {e for _, e in publisher.acked.values()}
        assert len(epochs) == 1, epochs
        expected = [n for n, _ in sorted(publisher.acked.items(), key=lambda kv: kv[1][0])]
        assert [publisher.acked[n][0] for n in expected] == list(range(1, len(expected) + 1))

        async def recovered_all() -> bool:
            return all(
                p.client.state == ClientState.CONNECTED
                and p.sub.state == SubscriptionState.SUBSCRIBED
                and p.rec.delivered() == expected
                for p in peers
            )

        # bounded; on timeout the assertions below say precisely what is wrong
        await wait_for(
            recovered_all, 25, "every client subscribed with every publication", strict=False
        )
        moved = [p for p in peers if len(p.rec.client_ids) > 1]
        assert len(moved) == on_a, ([len(p.rec.client_ids) for p in peers], counts)
        for p in peers:
            subs = p.rec.subs()
            assert p.client.state == ClientState.CONNECTED, p.rec.user
            assert p.sub.state == SubscriptionState.SUBSCRIBED, p.rec.user
            assert [(e[1], e[2]) for e in subs[1:]] == [(True, True)] * (len(subs) - 1), subs
            assert {e[3] for e in subs} == epochs, subs
            assert p.rec.delivered() == expected, (p.rec.user, subs)
            assert p.rec.offsets() == list(range(1, len(expected) + 1)), p.rec.user
        for p in moved:
            assert len(p.rec.subs()) >= 2, (p.rec.user, p.rec.subs())

        assert node_b.running

        async def only_b() -> bool:
            nodes = (await api(node_b, "info", {}))["result"]["nodes"]
            return [(n["name"], n["num_clients"]) for n in nodes] == [("node-b", NUM_CLIENTS)]

        await wait_for(only_b, 15, "info on B listing only node B with every client")
        current_ids = {p.rec.client_ids[-1] for p in peers}
        gone = {first_ids[p.rec.user] for p in moved}
        assert not gone & current_ids

        async def presence_matches() -> bool:
            reply = await api(node_b, "presence", {"channel": CHANNEL})
            return set(reply["result"]["presence"]) == current_ids

        await wait_for(presence_matches, PRESENCE_TTL + 5, "A's clients to leave presence on B")
        for p in peers:
            await p.client.disconnect()
