"""Which half of the Redis engine honours which ``*.redis`` option, and the startup warnings for
the rest (EN-03, EN-07, PR-05, HR-15). No Redis needed: nothing here connects."""

from __future__ import annotations

import logging

import pytest

from centripetal.config import config_from_mapping
from centripetal.engines import create_engine
from centripetal.engines.redis import RedisBroker, RedisPresenceManager
from centripetal.engines.redis.history_scripts import (
    HISTORY_LIST_SCRIPT,
    HISTORY_STREAM_SCRIPT,
    PUBLISH_LIST_SCRIPT,
    PUBLISH_STREAM_SCRIPT,
)


def engine(mapping: dict[str, object]) -> tuple[RedisBroker, RedisPresenceManager]:
    broker, presence = create_engine(config_from_mapping(mapping))
    assert isinstance(broker, RedisBroker) and isinstance(presence, RedisPresenceManager)
    return broker, presence


def test_engine_redis_options_reach_both_halves(caplog: pytest.LogCaptureFixture) -> None:
    """EN-03: one ``engine.redis`` section configures the broker and the presence manager."""
    section = {
        "address": ["redis+sentinel://127.0.0.1:26379?sentinel_master_name=m"],
        "history_use_lists": True,
        "presence_user_mapping": True,
        "presence_hash_field_ttl": True,
        "replica_client": {"enabled": True},
        "force_resp2": True,
    }
    with caplog.at_level(logging.WARNING):
        broker, presence = engine({"engine": {"type": "redis", "redis": section}})
    assert caplog.records == []
    assert broker.use_lists
    layout = presence.layout
    assert (layout.user_mapping, layout.hash_field_ttl, layout.replica_reads, layout.key) == (
        True,
        True,
        True,
        "engine.redis",
    )
    [shard] = broker.shards
    assert shard.replica is None  # the broker never reads from replicas
    assert shard.client.connection_pool.connection_kwargs["protocol"] == 2


def test_defaults_use_streams_zsets_master_and_resp3() -> None:
    """EN-03 defaults: streams, zset presence, reads on the master, no pinned protocol (RESP3
    asked for, RESP2 when refused)."""
    broker, presence = engine({"engine": {"type": "redis"}})
    assert not broker.use_lists
    assert (presence.layout.user_mapping, presence.layout.hash_field_ttl) == (False, False)
    assert not presence.layout.replica_reads
    [shard] = broker.shards
    assert shard.client.connection_pool.connection_kwargs.get("protocol") is None


def test_options_of_the_other_half_are_named(caplog: pytest.LogCaptureFixture) -> None:
    """EN-07: ``broker.redis`` presence options and ``presence_manager.redis`` history
    options have no effect and say so; ``replica_client`` in a broker-only section too."""
    with caplog.at_level(logging.WARNING):
        engine(
            {
                "broker": {
                    "enabled": True,
                    "type": "redis",
                    "redis": {
                        "presence_hash_field_ttl": True,
                        "replica_client": {"enabled": True},
                    },
                },
                "presence_manager": {
                    "enabled": True,
                    "type": "redis",
                    "redis": {"history_use_lists": True},
                },
            }
        )
    assert [r.getMessage() for r in caplog.records] == [
        "broker.redis.presence_hash_field_ttl is set but this section does not configure the "
        "presence manager; it has no effect",
        "broker.redis.replica_client.enabled is set but this section does not configure the "
        "presence manager; it has no effect",
        "broker.redis.replica_client.enabled: the broker keeps PUB/SUB subscriptions and "
        "history on the master (a replica cut off from its master keeps answering while it "
        "receives no publications, a silent gap; history reads create stream meta)",
        "presence_manager.redis.history_use_lists is set but this section does not configure "
        "the broker; it has no effect",
    ]


def test_replica_reads_need_a_replica_to_find(caplog: pytest.LogCaptureFixture) -> None:
    """EN-03: replicas are found through Sentinel or Cluster only; an all-single-server
    section turns replica reads off with a warning naming the key and the address."""
    with caplog.at_level(logging.WARNING):
        _, presence = engine(
            {
                "engine": {
                    "type": "redis",
                    "redis": {
                        "address": ["10.1.2.3:6379"],
                        "replica_client": {"enabled": True},
                    },
                }
            }
        )
    assert not presence.layout.replica_reads
    assert [r.getMessage() for r in caplog.records] == [
        "engine.redis.replica_client.enabled: 10.1.2.3:6379 is a single server address; "
        "replicas are found only through Sentinel or Redis Cluster, so presence reads stay "
        "on the master"
    ]


def test_list_and_stream_scripts_share_everything_but_storage() -> None:
    """HR-15: the list scripts differ from the stream scripts only in how they append and
    read, so idempotency, versions and meta handling cannot drift apart."""
    assert "xadd" in PUBLISH_STREAM_SCRIPT and "xadd" not in PUBLISH_LIST_SCRIPT
    assert "lpush" in PUBLISH_LIST_SCRIPT and "ltrim" in PUBLISH_LIST_SCRIPT
    head = PUBLISH_STREAM_SCRIPT.split("if ARGV[7]")[0]
    assert PUBLISH_LIST_SCRIPT.startswith(head)
    read = HISTORY_STREAM_SCRIPT.split("local reverse")[0]
    assert HISTORY_LIST_SCRIPT.startswith(read)
    assert "lrange" in HISTORY_LIST_SCRIPT and "xrange" not in HISTORY_LIST_SCRIPT
