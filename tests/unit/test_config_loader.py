"""Configuration loading: sources, precedence, formats, the tutorial config and the oracle
docker-compose environment (SV-02, MG-04, CH-51, PX-20..PX-27)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from centripetal.config import ConfigError, format_duration, load_config, parse_duration

TUTORIAL_CONFIG = """{
    "port": 8001,
    "engine": "redis",
    "redis_address": "redis://localhost:6379",
    "allowed_origins": "http://localhost:9000",
    "proxy_connect_endpoint": "http://localhost:8000/chat/centrifugo/connect/",
    "proxy_publish_endpoint": "http://localhost:8000/chat/centrifugo/publish/",
    "proxy_subscribe_endpoint": "http://localhost:8000/chat/centrifugo/subscribe/",
    "proxy_http_headers": ["Cookie"],
    "namespaces": [
        {
            "name": "rooms",
            "publish": true,
            "proxy_publish": true,
            "proxy_subscribe": true
        }
    ]
}
"""

# The environment block of centrifuge-python 0.7.0's docker-compose.yml, verbatim.
ORACLE_ENV = {
    "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY": "secret",
    "CENTRIFUGO_LOG_LEVEL": "trace",
    "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_ALLOWED_DELTA_TYPES": "fossil",
    "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_DELTA_PUBLISH": "true",
    "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_PRESENCE": "true",
    "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_JOIN_LEAVE": "true",
    "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_FORCE_PUSH_JOIN_LEAVE": "true",
    "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_HISTORY_SIZE": "100",
    "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_HISTORY_TTL": "300s",
    "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_FORCE_RECOVERY": "true",
    "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_ALLOW_PUBLISH_FOR_SUBSCRIBER": "true",
    "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_ALLOW_PRESENCE_FOR_SUBSCRIBER": "true",
    "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_ALLOW_HISTORY_FOR_SUBSCRIBER": "true",
    "CENTRIFUGO_CLIENT_SUBSCRIBE_TO_USER_PERSONAL_CHANNEL_ENABLED": "true",
    "CENTRIFUGO_CHANNEL_NAMESPACES": "smallhistory example",
    "CENTRIFUGO_CHANNEL_NAMESPACES_EXAMPLE_PRESENCE": "true",
    "CENTRIFUGO_CHANNEL_NAMESPACES_EXAMPLE_JOIN_LEAVE": "true",
    "CENTRIFUGO_CHANNEL_NAMESPACES_EXAMPLE_FORCE_PUSH_JOIN_LEAVE": "true",
    "CENTRIFUGO_CHANNEL_NAMESPACES_EXAMPLE_HISTORY_SIZE": "300",
    "CENTRIFUGO_CHANNEL_NAMESPACES_EXAMPLE_HISTORY_TTL": "300s",
    "CENTRIFUGO_CHANNEL_NAMESPACES_EXAMPLE_ALLOW_PUBLISH_FOR_SUBSCRIBER": "true",
    "CENTRIFUGO_CHANNEL_NAMESPACES_EXAMPLE_ALLOW_PRESENCE_FOR_SUBSCRIBER": "true",
    "CENTRIFUGO_CHANNEL_NAMESPACES_EXAMPLE_ALLOW_HISTORY_FOR_SUBSCRIBER": "true",
    "CENTRIFUGO_CHANNEL_NAMESPACES_SMALLHISTORY_FORCE_RECOVERY": "true",
    "CENTRIFUGO_CHANNEL_NAMESPACES_SMALLHISTORY_HISTORY_SIZE": "2",
    "CENTRIFUGO_CHANNEL_NAMESPACES_SMALLHISTORY_HISTORY_TTL": "300s",
    "CENTRIFUGO_CHANNEL_NAMESPACES_SMALLHISTORY_ALLOW_PUBLISH_FOR_SUBSCRIBER": "true",
    "CENTRIFUGO_CHANNEL_NAMESPACES_SMALLHISTORY_ALLOW_HISTORY_FOR_SUBSCRIBER": "true",
}


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_tutorial_v3_config_loads_verbatim(tmp_path: Path) -> None:
    """MG-04, CH-51, PX-20..PX-23, PX-27: the Django tutorial's flat config."""
    loaded = load_config(write(tmp_path, "config.json", TUTORIAL_CONFIG), {}, {})
    c = loaded.config
    assert loaded.warnings == []
    assert c.http_server.port == 8001
    assert c.engine.type == "redis"
    assert c.engine.redis.address == ["redis://localhost:6379"]
    assert c.client.allowed_origins == ["http://localhost:9000"]
    connect = c.client.proxy.connect
    assert connect.enabled is True
    assert connect.endpoint == "http://localhost:8000/chat/centrifugo/connect/"
    assert connect.http_headers == ["Cookie"]
    assert c.channel.proxy.publish.endpoint == "http://localhost:8000/chat/centrifugo/publish/"
    assert c.channel.proxy.publish.http_headers == ["Cookie"]
    assert c.channel.proxy.subscribe.endpoint == (
        "http://localhost:8000/chat/centrifugo/subscribe/"
    )
    assert c.channel.proxy.subscribe.http_headers == ["Cookie"]
    assert [ns.name for ns in c.channel.namespaces] == ["rooms"]
    rooms = c.channel.namespaces[0]
    assert rooms.allow_publish_for_client is True
    assert rooms.allow_publish_for_anonymous is False
    assert rooms.publish_proxy_enabled is True
    assert rooms.subscribe_proxy_enabled is True
    assert rooms.allow_subscribe_for_client is True
    assert rooms.allow_user_limited_channels is True
    assert rooms.allow_presence_for_subscriber is False


def test_oracle_docker_compose_env_verbatim() -> None:
    """SV-02: namespaces defined by name and addressed by name in the environment."""
    loaded = load_config(None, ORACLE_ENV, {})
    c = loaded.config
    assert loaded.warnings == []
    assert c.client.token.hmac_secret_key == "secret"
    assert c.log.level == "trace"
    wn = c.channel.without_namespace
    assert wn.allowed_delta_types == ["fossil"]
    assert wn.history_size == 100
    assert wn.history_ttl == 300.0
    assert (wn.delta_publish, wn.presence, wn.join_leave, wn.force_recovery) == (
        True,
        True,
        True,
        True,
    )
    assert c.client.subscribe_to_user_personal_channel.enabled is True
    assert [ns.name for ns in c.channel.namespaces] == ["smallhistory", "example"]
    small, example = c.channel.namespaces
    assert (small.history_size, small.history_ttl, small.force_recovery) == (2, 300.0, True)
    assert small.presence is False
    assert (example.history_size, example.presence, example.join_leave) == (300, True, True)
    assert example.allow_presence_for_subscriber is True


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    """DESIGN §6: flags > env > file, key by key."""
    path = write(
        tmp_path,
        "c.json",
        json.dumps({"http_server": {"port": 1111, "address": "file"}, "log": {"level": "debug"}}),
    )
    env = {"CENTRIFUGO_HTTP_SERVER_PORT": "2222", "CENTRIFUGO_HTTP_SERVER_ADDRESS": "env"}
    c = load_config(path, env, {"http_server.port": "3333"}).config
    assert c.http_server.port == 3333
    assert c.http_server.address == "env"
    assert c.log.level == "debug"
    c = load_config(path, env, {}).config
    assert c.http_server.port == 2222
    c = load_config(path, {}, {}).config
    assert (c.http_server.port, c.http_server.address) == (1111, "file")


def test_typed_flag_values_accepted(tmp_path: Path) -> None:
    c = load_config(None, {}, {"client.insecure": True, "client.ping_interval": "10s"}).config
    assert c.client.insecure is True
    assert c.client.ping_interval == 10.0


def test_yaml_file(tmp_path: Path) -> None:
    text = (
        "client:\n  ping_interval: 30s\n  allowed_origins: ['http://a']\nhttp_server:\n  port: 9\n"
    )
    c = load_config(write(tmp_path, "c.yaml", text), {}, {}).config
    assert (c.client.ping_interval, c.client.allowed_origins, c.http_server.port) == (
        30.0,
        ["http://a"],
        9,
    )


def test_toml_file(tmp_path: Path) -> None:
    text = (
        '[channel]\nhistory_meta_ttl = "1h"\n'
        '[[channel.namespaces]]\nname = "ns1"\npresence = true\n'
    )
    c = load_config(write(tmp_path, "c.toml", text), {}, {}).config
    assert c.channel.history_meta_ttl == 3600.0
    assert c.channel.namespaces[0].name == "ns1"
    assert c.channel.namespaces[0].presence is True


def test_missing_default_file_means_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = load_config(None, {}, {})
    assert loaded.path is None
    assert loaded.config.http_server.port == 8000
    assert loaded.config.client.ping_interval == 25.0


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file '.*nope.json' not found"):
        load_config(str(tmp_path / "nope.json"), {}, {})


def test_default_file_is_read_when_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text('{"http_server": {"port": 7}}')
    loaded = load_config(None, {}, {})
    assert (loaded.path, loaded.config.http_server.port) == ("config.json", 7)


def test_unknown_file_key_and_env_var_warn(tmp_path: Path) -> None:
    """SV-02: unknown keys and variables are named in warnings."""
    path = write(tmp_path, "c.json", '{"client": {"pingg_interval": "1s"}, "foo": 1}')
    loaded = load_config(path, {"CENTRIFUGO_NOT_A_KEY": "1", "OTHER": "x"}, {})
    assert loaded.warnings == [
        f"unknown key 'client.pingg_interval' in config file {path}",
        f"unknown key 'foo' in config file {path}",
        "unknown environment variable CENTRIFUGO_NOT_A_KEY",
    ]


def test_removed_v3_key_warns(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", '{"port": 8001, "sockjs": true}')
    loaded = load_config(path, {}, {})
    assert loaded.warnings == [
        "config key 'sockjs' was removed (not supported in the v6 layout); ignored"
    ]


def test_env_arrays_json_and_space_separated() -> None:
    env = {
        "CENTRIFUGO_CLIENT_ALLOWED_ORIGINS": "http://a http://b",
        "CENTRIFUGO_ENGINE_REDIS_ADDRESS": '["redis://x:1", "redis://y:2"]',
    }
    c = load_config(None, env, {}).config
    assert c.client.allowed_origins == ["http://a", "http://b"]
    assert c.engine.redis.address == ["redis://x:1", "redis://y:2"]


def test_env_namespaces_as_json() -> None:
    env = {
        "CENTRIFUGO_CHANNEL_NAMESPACES": (
            '[{"name": "chat", "history_size": 5, "history_ttl": "60s"}]'
        )
    }
    ns = load_config(None, env, {}).config.channel.namespaces
    assert [(n.name, n.history_size, n.history_ttl) for n in ns] == [("chat", 5, 60.0)]


def test_env_addresses_namespace_defined_in_file(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", '{"channel": {"namespaces": [{"name": "chat"}]}}')
    env = {"CENTRIFUGO_CHANNEL_NAMESPACES_CHAT_PRESENCE": "true"}
    ns = load_config(path, env, {}).config.channel.namespaces
    assert [(n.name, n.presence) for n in ns] == [("chat", True)]


def test_env_flat_v3_spelling() -> None:
    env = {"CENTRIFUGO_TOKEN_HMAC_SECRET_KEY": "k", "CENTRIFUGO_PORT": "9001"}
    loaded = load_config(None, env, {})
    assert loaded.config.client.token.hmac_secret_key == "k"
    assert loaded.config.http_server.port == 9001
    assert loaded.warnings == []


def test_admin_section_defaults_and_values(tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", '{"admin": true, "admin_password": "p", "port": 1}')
    admin = load_config(path, {}, {}).config.admin
    assert admin["enabled"] is True
    assert admin["password"] == "p"
    assert admin["insecure"] is False


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("25s", 25.0),
        ("1000ms", 1.0),
        ("720h", 2592000.0),
        ("1m30s", 90.0),
        ("1.5s", 1.5),
        ("-1s", -1.0),
        ("0", 0.0),
        ("-0", 0.0),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("1h2m3.5s", 3723.5),
        ("1µs", 1e-06),
        ("1ns", 1e-09),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    """SV-02: Go's time.ParseDuration."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("abc", 'invalid duration "abc"'),
        ("1x", 'unknown unit "x" in duration "1x"'),
        ("s", 'invalid duration "s"'),
        ("", 'invalid duration ""'),
        ("300", 'missing unit in duration "300"'),
        ("1 s", 'unknown unit " s" in duration "1 s"'),
        (".s", 'invalid duration ".s"'),
        ("2562047h47m16.854775808s", 'invalid duration "2562047h47m16.854775808s"'),
    ],
)
def test_parse_duration_rejects(bad: str, reason: str) -> None:
    """SV-02: what Go's time.ParseDuration rejects, with its reason."""
    with pytest.raises(ValueError) as info:
        parse_duration(bad)
    assert str(info.value) == reason


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (25.0, "25s"),
        (604800.0, "168h0m0s"),
        (90.0, "1m30s"),
        (0.5, "500ms"),
        (1.5, "1.5s"),
        (-1.0, "-1s"),
    ],
)
def test_format_duration_is_go_style(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_v2_history_lifetime_seconds(tmp_path: Path) -> None:
    """CH-24: v2 ``history_lifetime`` integer seconds -> history_ttl."""
    text = '{"port": 1, "namespaces": [{"name": "n1", "history_size": 3, "history_lifetime": 60}]}'
    ns = load_config(write(tmp_path, "c.json", text), {}, {}).config.channel.namespaces[0]
    assert (ns.history_size, ns.history_ttl, ns.allow_history_for_subscriber) == (3, 60.0, True)


def test_partial_sections_keep_their_default_prefixes() -> None:
    """A section given with only ``enabled`` keeps its default handler prefix (SV-05, SV-06)."""
    from centripetal.config import config_from_mapping

    c = config_from_mapping(
        {
            "prometheus": {"enabled": True},
            "health": {"enabled": True},
            "uni_websocket": {"enabled": True},
            "uni_sse": {"enabled": True},
            "http_stream": {"enabled": True},
        }
    )
    assert c.prometheus.handler_prefix == "/metrics"
    assert c.health.handler_prefix == "/health"
    assert c.uni_websocket.handler_prefix == "/connection/uni_websocket"
    assert c.uni_sse.handler_prefix == "/connection/uni_sse"
    assert c.http_stream.handler_prefix == "/connection/http_stream"
