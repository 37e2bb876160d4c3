"""The support table of every configuration key (SV-02, ``config.support``).

The schema is walked key by key: each key must be honoured (with the test that shows it),
a no-op (with the reason), warned or refused; a cited test must exist.
"""

from __future__ import annotations

import ast
import collections
from pathlib import Path

import pytest

from centripetal.config import config_from_mapping, support
from centripetal.config.tree import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_functions() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.add(f"{path.relative_to(ROOT)}::{node.name}")
    return found


test_functions.__test__ = False  # type: ignore[attr-defined]


def test_every_schema_key_has_a_row() -> None:
    paths = list(support.schema_paths())
    assert len(paths) > 500
    assert [p for p in paths if support.row_for(p) is None] == []


def test_every_row_covers_some_key() -> None:
    used: collections.Counter[int] = collections.Counter()
    for path in support.schema_paths():
        row = support.row_for(path)
        assert row is not None
        used[id(row)] += 1
    assert [r.patterns for r in support.SUPPORT if not used[id(r)]] == []


def test_honoured_rows_cite_existing_tests() -> None:
    existing = test_functions()
    cited = {r.note for r in support.SUPPORT if r.status == "honoured"}
    assert sorted(c for c in cited if c not in existing) == []


def test_other_rows_give_a_reason() -> None:
    for row in support.SUPPORT:
        if row.status != "honoured":
            assert len(row.note) > 20 and "::" not in row.note, row


def test_defaults_raise_nothing() -> None:
    assert support.review(config_from_mapping({})) == []


def test_warned_keys_are_named_with_their_path_and_reason() -> None:
    config = config_from_mapping(
        {
            "graphite": {"enabled": True},
            "channel": {"namespaces": [{"name": "maps", "subscription_type": "map"}]},
            "proxies": [{"name": "px", "endpoint": "grpc://x:1", "grpc_metadata": ["a"]}],
        }
    )
    assert [(f.path, f.status) for f in support.review(config)] == [
        ("channel.namespaces[0].subscription_type", "warned"),
        ("proxies[0].grpc_metadata", "warned"),
        ("graphite.enabled", "warned"),
    ]
    assert support.check(config)[0] == (
        "channel.namespaces[0].subscription_type: not supported: map and shared-poll "
        "subscriptions are not available (subscribe answers 103)"
    )


def test_a_key_set_to_its_default_is_not_named() -> None:
    config = config_from_mapping({"grpc_api": {"enabled": False, "port": 10000}})
    assert support.review(config) == []


def test_refused_keys_stop_the_start_with_every_reason() -> None:
    config = config_from_mapping(
        {
            "broker": {"nats": {"raw_mode": {"enabled": True}}},
            "engine": {"redis": {"sentinel_tls": {"enabled": True}}},
        }
    )
    with pytest.raises(ConfigError) as info:
        support.check(config)
    assert str(info.value) == (
        "engine.redis.sentinel_tls.enabled: refused: TLS to Redis Sentinel is not available; "
        "the connection would be plain text; broker.nats.raw_mode.enabled: refused: NATS raw "
        "mode is not available; publications would not reach raw subjects"
    )
