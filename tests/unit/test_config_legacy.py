"""Flat v3/v4/v5 keys -> v6 (Appendix B CFG-001..CFG-184, CH-51, PX-20..PX-28, AU-09)."""

from __future__ import annotations

from typing import Any

import pytest
from msgspec import inspect as mi

from centripetal.config import schema
from centripetal.config.legacy import CFG_ROWS, convert, is_flat
from centripetal.config.loader import decode
from centripetal.config.tree import CONFIG_TYPE, type_at
from centripetal.config.weak import Loose, coerce


def _sample(t: mi.Type) -> tuple[object, object]:
    """(value written in the flat file, value expected after decoding)."""
    if isinstance(t, mi.BoolType):
        return True, True
    if isinstance(t, mi.IntType):
        return 4321, 4321
    if isinstance(t, mi.FloatType):
        return "7s", 7.0
    if isinstance(t, mi.StrType):
        return "sample", "sample"
    if isinstance(t, mi.ListType):
        return ["a", "b"], ["a", "b"]
    raise AssertionError(t)


def _get(config: schema.Config, path: str) -> Any:
    node: Any = config
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def _load_flat(raw: dict[str, Any]) -> schema.Config:
    tree, _ = convert(raw)
    result = coerce(tree, CONFIG_TYPE, "", Loose({}))
    assert isinstance(result, dict)
    return decode(result)


PLAIN_ROWS = [
    (cfg_id, key, target)
    for cfg_id, key, target in CFG_ROWS
    if (
        target[0] not in "@*-"
        and key not in ("broker", "connect_proxy_name", "refresh_proxy_name", "rpc_proxy_name")
        and not isinstance(type_at(target), mi.ListType | mi.StructType | type(None))
    )
    or key in ("allowed_origins", "redis_address", "redis_cluster_address")
]


@pytest.mark.parametrize(("cfg_id", "key", "target"), PLAIN_ROWS, ids=[r[0] for r in PLAIN_ROWS])
def test_cfg_row_maps_to_v6_path(cfg_id: str, key: str, target: str) -> None:
    """Appendix B: every plain v3 key lands on its v6 path with its value."""
    t = type_at(target)
    assert t is not None, f"{cfg_id}: {target} missing from schema"
    written, expected = _sample(t)
    if key == "engine":
        written, expected = "redis", "redis"
    if key == "log_level":
        written, expected = "debug", "debug"
    if key in ("port", "internal_port", "grpc_api_port", "uni_grpc_port", "graphite_port"):
        written, expected = 4321, 4321
    raw: dict[str, Any] = {key: written}
    if key == "user_personal_channel_namespace":
        raw["namespaces"] = [{"name": "sample"}]
    config = _load_flat(raw)
    assert _get(config, target) == expected


OPTION_ROWS = [(c, k, t[1:]) for c, k, t in CFG_ROWS if t.startswith("@") and t != "@-"]


@pytest.mark.parametrize(("cfg_id", "key", "option"), OPTION_ROWS, ids=[r[0] for r in OPTION_ROWS])
def test_cfg_channel_option_rows_map_into_namespaces(cfg_id: str, key: str, option: str) -> None:
    """CFG-010/056/059/071/072/087/094/097/098/124 inside a v3 namespace (CH-51)."""
    ns: dict[str, Any] = {"name": "ns1", key: True}
    if key == "subscribe_to_publish":
        ns["publish"] = True
    if key in ("history_size", "recover"):
        ns.update({"history_size": 10, "history_ttl": "60s"})
    config = _load_flat({"port": 1, "namespaces": [ns]})
    value = getattr(config.channel.namespaces[0], option)
    assert value == (10 if option == "history_size" else True)


REMOVED_ROWS = [(c, k) for c, k, t in CFG_ROWS if t == "-"]


@pytest.mark.parametrize(("cfg_id", "key"), REMOVED_ROWS, ids=[r[0] for r in REMOVED_ROWS])
def test_cfg_removed_rows_warn(cfg_id: str, key: str) -> None:
    _, warnings = convert({"port": 1, key: True})
    assert len(warnings) == 1
    assert warnings[0].startswith(f"config key {key!r} was removed")


def test_appendix_b_is_complete() -> None:
    assert [row[0] for row in CFG_ROWS] == [f"CFG-{i:03d}" for i in range(1, 185)]


def test_v6_file_is_not_flat() -> None:
    raw = {"http_server": {"port": 1}, "engine": {"type": "redis"}, "proxies": []}
    assert not is_flat(raw)
    assert convert(raw) == (raw, [])


@pytest.mark.parametrize(
    "raw",
    [{"port": 1}, {"engine": "redis"}, {"namespaces": []}, {"token_hmac_secret_key": "k"},
     {"api_key": "k"}, {"allowed_origins": "*"}, {"proxy_connect_endpoint": "http://x"},
     {"admin": True}],
)  # fmt: skip
def test_flat_detection(raw: dict[str, Any]) -> None:
    assert is_flat(raw)


def test_v3_anonymous_publish_presence_history() -> None:
    """CH-51: anonymous + publish + presence + history -> v4 allow_* options."""
    ns = {
        "name": "pub",
        "anonymous": True,
        "publish": True,
        "presence": True,
        "join_leave": True,
        "history_size": 10,
        "history_ttl": "300s",
        "position": True,
        "recover": True,
    }
    opts = _load_flat({"port": 1, "namespaces": [ns]}).channel.namespaces[0]
    assert opts.allow_subscribe_for_client and opts.allow_subscribe_for_anonymous
    assert opts.allow_publish_for_client and opts.allow_publish_for_anonymous
    assert opts.allow_presence_for_subscriber and opts.allow_presence_for_anonymous
    assert opts.allow_history_for_subscriber and opts.allow_history_for_anonymous
    assert opts.join_leave and opts.force_push_join_leave
    assert opts.force_positioning and opts.force_recovery
    assert opts.allow_user_limited_channels


def test_v3_protected_subscribe_to_publish_and_disabled_for_client() -> None:
    ns = {
        "name": "priv",
        "protected": True,
        "publish": True,
        "subscribe_to_publish": True,
        "presence": True,
        "presence_disable_for_client": True,
        "history_size": 1,
        "history_ttl": "1s",
        "history_disable_for_client": True,
    }
    opts = _load_flat({"port": 1, "namespaces": [ns]}).channel.namespaces[0]
    assert opts.allow_subscribe_for_client is False
    assert opts.allow_publish_for_subscriber is True
    assert opts.allow_publish_for_client is False
    assert opts.allow_publish_for_anonymous is False
    assert opts.allow_presence_for_subscriber is False
    assert opts.allow_history_for_subscriber is False


def test_v4_flat_namespaces_keep_their_names() -> None:
    """v4/v5 flat layout: allow_* options kept; nothing added."""
    ns = {"name": "v4", "allow_publish_for_subscriber": True, "proxy_subscribe": True}
    config = _load_flat({"token_hmac_secret_key": "k", "namespaces": [ns]})
    opts = config.channel.namespaces[0]
    assert opts.allow_publish_for_subscriber is True
    assert opts.subscribe_proxy_enabled is True
    assert opts.allow_subscribe_for_client is False
    assert opts.allow_user_limited_channels is False
    assert config.client.token.hmac_secret_key == "k"


def test_v3_top_level_channel_options_go_to_without_namespace() -> None:
    wn = _load_flat({"port": 1, "presence": True, "anonymous": True}).channel.without_namespace
    assert wn.presence and wn.allow_presence_for_subscriber and wn.allow_presence_for_anonymous
    assert wn.allow_subscribe_for_client and wn.allow_subscribe_for_anonymous


def test_broker_nats_and_redis_address_list() -> None:
    config = _load_flat({"broker": "nats", "redis_address": ["redis://a", "redis://b"]})
    assert (config.broker.enabled, config.broker.type) == (True, "nats")
    assert config.engine.redis.address == ["redis://a", "redis://b"]


def test_granular_proxies_v3() -> None:
    """PX-28: named proxies referenced by connect_proxy_name / namespace / rpc."""
    raw = {
        "port": 1,
        "granular_proxy_mode": True,
        "proxies": [
            {"name": "conn", "endpoint": "http://c", "timeout": "2s", "http_headers": ["Cookie"]},
            {"name": "rpcp", "endpoint": "http://r"},
        ],
        "connect_proxy_name": "conn",
        "rpc_proxy_name": "rpcp",
        "namespaces": [{"name": "n1", "subscribe_proxy_name": "conn"}],
        "rpc_namespaces": [{"name": "r1", "rpc_proxy_name": "rpcp"}],
    }
    config = _load_flat(raw)
    connect = config.client.proxy.connect
    assert (connect.enabled, connect.endpoint, connect.timeout) == (True, "http://c", 2.0)
    assert connect.http_headers == ["Cookie"]
    ns = config.channel.namespaces[0]
    assert (ns.subscribe_proxy_enabled, ns.subscribe_proxy_name) == (True, "conn")
    rpc = config.rpc
    assert (rpc.without_namespace.proxy_enabled, rpc.without_namespace.proxy_name) == (
        True,
        "rpcp",
    )
    assert (rpc.namespaces[0].name, rpc.namespaces[0].proxy_name) == ("r1", "rpcp")


def test_proxy_common_options_and_rpc_endpoint() -> None:
    raw = {
        "proxy_rpc_endpoint": "http://rpc",
        "proxy_rpc_timeout": "3s",
        "proxy_binary_encoding": True,
        "proxy_include_connection_meta": True,
        "proxy_static_http_headers": {"X-A": "1"},
    }
    config = _load_flat(raw)
    assert config.rpc.proxy.endpoint == "http://rpc"
    assert config.rpc.proxy.timeout == 3.0
    assert config.rpc.without_namespace.proxy_enabled is True
    for proxy in (config.rpc.proxy, config.client.proxy.refresh, config.channel.proxy.publish):
        assert proxy.binary_encoding is True
        assert proxy.include_connection_meta is True
        assert proxy.http.static_headers == {"X-A": "1"}


def test_unknown_connect_proxy_name_fails() -> None:
    with pytest.raises(ValueError, match=r"^connect_proxy_name: unknown proxy 'x'"):
        convert({"port": 1, "connect_proxy_name": "x"})


@pytest.mark.parametrize(
    "raw",
    [
        {"port": 8001, "engine": "memory", "http_server": {"address": "127.0.0.1"}},
        {"http_server": {"address": "127.0.0.1"}, "port": 8001, "engine": "memory"},
    ],
)
def test_flat_keys_and_nested_section_merge_in_any_order(raw: dict[str, Any]) -> None:
    """A flat ``port`` and a nested ``http_server`` object in one file both apply."""
    from centripetal.config import config_from_mapping

    config = config_from_mapping(raw)
    assert config.http_server.port == 8001
    assert config.http_server.address == "127.0.0.1"
