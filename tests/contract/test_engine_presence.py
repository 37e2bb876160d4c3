"""PresenceManager contract: entries per client id, stats by distinct users (PR-01, PR-02)."""

from __future__ import annotations

from contract.engine_harness import EngineHarness

from centripetal.engines.base import ClientInfo


async def test_add_and_read_presence(engine: EngineHarness) -> None:
    pm = engine.presence
    a = ClientInfo(user="1", client="a", conn_info=b'{"n":1}', chan_info=b'{"c":2}')
    b = ClientInfo(user="2", client="b")
    await pm.add_presence("ch", "a", a)
    await pm.add_presence("ch", "b", b)
    assert await pm.presence("ch") == {"a": a, "b": b}
    assert await pm.presence("other") == {}


async def test_add_presence_again_replaces_entry(engine: EngineHarness) -> None:
    pm = engine.presence
    await pm.add_presence("ch", "a", ClientInfo(user="1", client="a"))
    newer = ClientInfo(user="1", client="a", chan_info=b'{"v":2}')
    await pm.add_presence("ch", "a", newer)
    assert await pm.presence("ch") == {"a": newer}
    stats = await pm.presence_stats("ch")
    assert (stats.num_clients, stats.num_users) == (1, 1)


async def test_presence_stats_count_distinct_users(engine: EngineHarness) -> None:
    """PR-02: num_users counts distinct user ids; all anonymous clients are one user ''."""
    pm = engine.presence
    for client, user in [("a", "1"), ("b", "1"), ("c", "2"), ("d", ""), ("e", "")]:
        await pm.add_presence("ch", client, ClientInfo(user=user, client=client))
    stats = await pm.presence_stats("ch")
    assert (stats.num_clients, stats.num_users) == (5, 3)


async def test_remove_presence(engine: EngineHarness) -> None:
    pm = engine.presence
    await pm.add_presence("ch", "a", ClientInfo(user="1", client="a"))
    await pm.add_presence("ch", "b", ClientInfo(user="1", client="b"))
    await pm.remove_presence("ch", "a", "1")
    assert list(await pm.presence("ch")) == ["b"]
    await pm.remove_presence("ch", "b", "1")
    assert await pm.presence("ch") == {}
    stats = await pm.presence_stats("ch")
    assert (stats.num_clients, stats.num_users) == (0, 0)
    await pm.remove_presence("ch", "missing", "x")  # removing an absent entry is not an error


async def test_presence_result_is_a_copy(engine: EngineHarness) -> None:
    pm = engine.presence
    await pm.add_presence("ch", "a", ClientInfo(user="1", client="a"))
    snapshot = await pm.presence("ch")
    snapshot.clear()
    assert list(await pm.presence("ch")) == ["a"]
