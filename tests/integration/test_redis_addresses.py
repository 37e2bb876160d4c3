"""Redis address parsing and shard selection without any server (EN-03, EN-04, EN-05)."""

from __future__ import annotations

import msgspec
import pytest

from centripetal.config import schema
from centripetal.engines.base import EngineError
from centripetal.engines.redis import ShardAddress, jump_hash, parse_address, shard_addresses
from centripetal.engines.redis.sharding import fnv1a_64, shard_index


def redis_cfg(**kw: object) -> schema.RedisEngine:
    return msgspec.convert(kw, schema.RedisEngine)


def test_plain_host_port() -> None:
    assert parse_address("10.0.0.1:6380") == ShardAddress("single", [("10.0.0.1", 6380)])
    assert parse_address("localhost").hosts == [("localhost", 6379)]


def test_redis_url_with_credentials_and_db() -> None:
    a = parse_address("redis://user:p%40ss@h:6390/3")
    assert (a.kind, a.hosts, a.user, a.password, a.db, a.tls) == (
        "single",
        [("h", 6390)],
        "user",
        "p@ss",
        3,
        False,
    )
    assert parse_address("rediss://h:6391").tls is True


def test_sentinel_url() -> None:
    a = parse_address(
        "redis+sentinel://s1:26380?sentinel_master_name=mymaster&addr=s2:26381&sentinel_password=sp"
    )
    assert (a.kind, a.hosts, a.master_name, a.sentinel_password) == (
        "sentinel",
        [("s1", 26380), ("s2", 26381)],
        "mymaster",
        "sp",
    )
    with pytest.raises(EngineError, match="sentinel_master_name is required"):
        parse_address("redis+sentinel://s1:26379")


def test_cluster_seeds_by_addr() -> None:
    a = parse_address("redis://n1:7000?addr=n2:7001,n3:7002")
    assert (a.kind, a.hosts) == ("cluster", [("n1", 7000), ("n2", 7001), ("n3", 7002)])


def test_unsupported_scheme() -> None:
    with pytest.raises(EngineError, match="unsupported redis address scheme 'http'"):
        parse_address("http://h:1")


def test_config_section_credentials_and_kinds() -> None:
    """EN-03: one shard per address; section user/password/db/tls apply to every shard."""
    shards = shard_addresses(redis_cfg(address=["a:1", "redis://b:2/5"], password="pw", db=2))
    assert [(s.hosts, s.password, s.db) for s in shards] == [
        ([("a", 1)], "pw", 2),
        ([("b", 2)], "pw", 5),
    ]
    [s] = shard_addresses(redis_cfg(sentinel_address=["s:26379"], sentinel_master_name="m"))
    assert (s.kind, s.master_name) == ("sentinel", "m")
    [c] = shard_addresses(redis_cfg(cluster_address=["c1:7000", "c2:7001"]))
    assert (c.kind, c.hosts) == ("cluster", [("c1", 7000), ("c2", 7001)])
    with pytest.raises(EngineError, match="sentinel_master_name is required"):
        shard_addresses(redis_cfg(sentinel_address=["s:1"]))


def test_fnv1a_64_known_vectors() -> None:
    assert fnv1a_64(b"") == 0xCBF29CE484222325
    assert fnv1a_64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a_64(b"foobar") == 0x85944171F73967E8


def test_jump_hash_is_consistent_when_shards_grow() -> None:
    """EN-04: growing from n to n+1 shards moves keys only to the new shard, ~1/(n+1) of them."""
    keys = [fnv1a_64(b"channel%d" % i) for i in range(2000)]
    for n in (1, 2, 3, 7):
        before = [jump_hash(k, n) for k in keys]
        after = [jump_hash(k, n + 1) for k in keys]
        moved = [a for b, a in zip(before, after, strict=True) if a != b]
        assert set(moved) <= {n}
        assert abs(len(moved) / len(keys) - 1 / (n + 1)) < 0.05
    assert all(0 <= jump_hash(k, 5) < 5 for k in keys)


def test_shard_index_single_and_spread() -> None:
    assert shard_index("anything", 1) == 0
    counts = [0, 0]
    for i in range(1000):
        counts[shard_index(f"ch{i}", 2)] += 1
    assert 400 < counts[0] < 600
    assert shard_index("news", 2) == shard_index("news", 2)


def test_options_of_the_other_half_warn_and_sentinel_tls_refuses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """EN-03/EN-07: an option the section's half cannot use is named at startup (list history
    in a presence-only section); Sentinel TLS is refused rather than silently used in plain
    text."""
    from centripetal.config import config_from_mapping
    from centripetal.config.tree import ConfigError
    from centripetal.engines import create_engine
    from centripetal.engines.redis import create_redis_engine

    cfg = config_from_mapping(
        {
            "presence_manager": {
                "enabled": True,
                "type": "redis",
                "redis": {"history_use_lists": True},
            }
        }
    )
    with caplog.at_level("WARNING"):
        create_engine(cfg)
    assert [r.getMessage() for r in caplog.records] == [
        "presence_manager.redis.history_use_lists is set but this section does not configure "
        "the broker; it has no effect"
    ]
    cfg = config_from_mapping(
        {"engine": {"type": "redis", "redis": {"sentinel_tls": {"enabled": True}}}}
    )
    with pytest.raises(ConfigError, match=r"engine\.redis\.sentinel_tls"):
        create_redis_engine(cfg)
