"""``force_resp2``: the RESP version of every Redis connection, read back from the server's
``CLIENT LIST`` (EN-03).

Command connections ask for RESP3 (``HELLO 3``) and use RESP2 when the server refuses it;
``force_resp2`` pins them to RESP2. The PUB/SUB connection speaks RESP2 either way (its reader
is twice as fast on RESP2 with redis-py).
"""

from __future__ import annotations

import uuid

from contract.engine_harness import RecordingHandler
from support.redis import NO_PERSISTENCE, RedisServer

from centripetal.config import config_from_mapping
from centripetal.engines import create_engine
from centripetal.engines.base import ClientInfo, PublishOptions

HIST = PublishOptions(history_size=5, history_ttl=60.0)


def connections(server: RedisServer) -> list[dict[str, str]]:
    rows = []
    for line in server.cli("CLIENT", "LIST").splitlines():
        rows.append(dict(field.split("=", 1) for field in line.split() if "=" in field))
    return rows


async def resp_versions(server: RedisServer, **redis: object) -> tuple[set[str], set[str]]:
    """Run a publish, a subscribe and a presence read through an engine built from the
    config, then return the RESP versions of (named command connections, PUB/SUB ones)."""
    name = f"cpt{uuid.uuid4().hex[:6]}"
    section = {"address": [server.address], "client_name": name, **redis}
    broker, presence = create_engine(
        config_from_mapping({"engine": {"type": "redis", "redis": section}})
    )
    broker.set_event_handler(RecordingHandler())
    await presence.run()
    await broker.run()
    try:
        await broker.subscribe("ch")
        await broker.publish("ch", b"1", HIST)
        await presence.add_presence("ch", "c", ClientInfo(user="u", client="c"))
        assert list(await presence.presence("ch")) == ["c"]
        rows = connections(server)
    finally:
        await broker.close()
        await presence.close()
    # client_name names the PUB/SUB connections too; those are told apart by their channels
    commands = {r["resp"] for r in rows if r.get("name") == name and r.get("sub", "0") == "0"}
    pubsub = {r["resp"] for r in rows if r.get("sub", "0") != "0"}
    assert commands and pubsub
    return commands, pubsub


async def test_resp3_by_default_en03() -> None:
    """EN-03: without ``force_resp2`` command connections speak RESP3."""
    with RedisServer() as server:
        assert await resp_versions(server) == ({"3"}, {"2"})


async def test_force_resp2_pins_resp2_en03() -> None:
    """EN-03: ``force_resp2: true`` makes every connection RESP2."""
    with RedisServer() as server:
        assert await resp_versions(server, force_resp2=True) == ({"2"}, {"2"})


async def test_resp2_when_server_refuses_hello_en03() -> None:
    """EN-03: a server without ``HELLO`` (renamed away here) is spoken to in RESP2."""
    with RedisServer([*NO_PERSISTENCE, "--rename-command", "HELLO", ""]) as server:
        assert await resp_versions(server) == ({"2"}, {"2"})
