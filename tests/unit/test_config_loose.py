"""SV-02: Centrifugo's loose value types in config files (JSON, YAML, TOML), ``CENTRIFUGO_*``
variables and flags.

The corpus below writes each shape in every file format, loads it and asserts the exact decoded
value. Sources of the rules: mapstructure ``WeaklyTypedInput`` (viper's decoder), Centrifugo's
decode hooks (``configtypes``: Duration, PEMData, MapStringString), Centrifugo's envconfig fork,
and Go's ``strconv`` / ``time.ParseDuration`` / ``yaml.v3``.
"""

from __future__ import annotations

import json
import sys
import tomllib
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import yaml

from centripetal import cli
from centripetal.config import ConfigError, load_config, schema
from centripetal.config.gosyntax import format_float, parse_bool, parse_int

FORMATS = ("json", "yaml", "toml")
PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n"


class _QuotingDumper(yaml.SafeDumper):
    """Block-style YAML whose strings are always double-quoted (so they stay strings)."""


_QuotingDumper.add_representer(
    str, lambda dumper, text: dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')
)


def write(tmp_path: Path, fmt: str, tree: dict[str, Any]) -> str:
    path = tmp_path / f"config.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(tree))
    elif fmt == "yaml":
        path.write_text(yaml.dump(tree, Dumper=_QuotingDumper, default_flow_style=False))
    else:
        text = tomli_w.dumps(tree)
        assert tomllib.loads(text) == tree
        path.write_text(text)
    return str(path)


def at(path: str, value: object) -> dict[str, Any]:
    """``at("a.b", 1)`` -> ``{"a": {"b": 1}}``."""
    tree: Any = value
    for part in reversed(path.split(".")):
        tree = {part: tree}
    return dict(tree)


def get(config: schema.Config, path: str) -> Any:
    node: Any = config
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            node = node[int(part[1:-1])]
        elif isinstance(node, dict):
            node = node[part]
        else:
            node = getattr(node, part)
    return node


@dataclass(frozen=True)
class Shape:
    """One file shape: the tree written, the attribute read back and its exact value."""

    id: str
    tree: dict[str, Any]
    read: str
    expected: object
    formats: tuple[str, ...] = FORMATS


def shape(case_id: str, path: str, value: object, expected: object, **kw: Any) -> Shape:
    return Shape(case_id, at(path, value), path, expected, **kw)


ADDRESS = "engine.redis.address"
ORIGINS = "client.allowed_origins"
LIMIT = "client.channel_limit"
INSECURE = "client.insecure"
TIMEOUT = "shutdown.timeout"
NAME = "node.name"
HEADERS = "client.proxy.connect.http.static_headers"
NO_TOML = ("json", "yaml")

SHAPES: list[Shape] = [
    # list of strings: a single value is a one-element list (the issue's example)
    Shape(
        "issue-engine-redis-address-single-string",
        {"engine": {"type": "redis", "redis": {"address": "redis://localhost:6379"}}},
        ADDRESS,
        ["redis://localhost:6379"],
    ),
    shape("list-as-list", ADDRESS, ["redis://a:1", "redis://b:2"], ["redis://a:1", "redis://b:2"]),
    shape("list-single-int", ORIGINS, 5, ["5"]),
    shape("list-single-bool", ORIGINS, True, ["1"]),
    shape("list-single-empty-string", ORIGINS, "", [""]),
    shape("list-empty-object", ORIGINS, {}, []),
    shape("list-items-weak", ORIGINS, [1, "a", False, 2.5], ["1", "a", "0", "2.5"]),
    shape("list-null-item-is-zero", ORIGINS, ["a", None], ["a", ""], formats=NO_TOML),
    # int
    shape("int-plain", LIMIT, 12, 12),
    shape("int-hex-string", LIMIT, "0x10", 16),
    shape("int-octal-0o-string", LIMIT, "0o17", 15),
    shape("int-octal-leading-zero-string", LIMIT, "017", 15),
    shape("int-binary-string", LIMIT, "0b101", 5),
    shape("int-underscore-string", LIMIT, "1_000", 1000),
    shape("int-signed-strings", LIMIT, "-5", -5),
    shape("int-plus-string", LIMIT, "+7", 7),
    shape("int-empty-string-is-zero", LIMIT, "", 0),
    shape("int-float-truncates", LIMIT, 2.9, 2),
    shape("int-negative-float-truncates", LIMIT, -2.9, -2),
    shape("int-true", LIMIT, True, 1),
    shape("int-false", LIMIT, False, 0),
    shape("int-null-keeps-default", LIMIT, None, 128, formats=NO_TOML),
    # bool
    shape("bool-string-1", INSECURE, "1", True),
    shape("bool-string-t", INSECURE, "t", True),
    shape("bool-string-TRUE", INSECURE, "TRUE", True),
    shape("bool-string-False", INSECURE, "False", False),
    shape("bool-empty-string", INSECURE, "", False),
    shape("bool-int-0", INSECURE, 0, False),
    shape("bool-int-2", INSECURE, 2, True),
    shape("bool-float", INSECURE, 0.5, True),
    shape("bool-plain", INSECURE, True, True),
    # duration
    shape("duration-seconds", TIMEOUT, "25s", 25.0),
    shape("duration-compound", TIMEOUT, "1m30s", 90.0),
    shape("duration-fraction-hours", TIMEOUT, "1.5h", 5400.0),
    shape("duration-millis", TIMEOUT, "100ms", 0.1),
    shape("duration-zero-unitless", TIMEOUT, "0", 0.0),
    shape("duration-negative", TIMEOUT, "-1s", -1.0),
    shape("duration-number-is-nanoseconds", TIMEOUT, 25_000_000_000, 25.0),
    shape("duration-float-number-truncates-nanoseconds", TIMEOUT, 1_500_000_000.9, 1.5),
    # string (and PEM data, a string key)
    shape("string-from-int", NAME, 8000, "8000"),
    shape("string-from-float", NAME, 1.5, "1.5"),
    shape("string-from-whole-float", NAME, 3.0, "3"),
    shape("string-from-large-float", NAME, 1e21, "1000000000000000000000"),
    shape("string-from-negative-int", NAME, -7, "-7"),
    shape("string-from-true", NAME, True, "1"),
    shape("string-from-false", NAME, False, "0"),
    shape("pem-multiline-as-is", "http_server.tls.cert_pem", PEM, PEM),
    shape("pem-from-number", "http_server.tls.key_pem", 12, "12"),
    # object list: namespaces, proxies
    Shape(
        "object-list-single-object",
        at(
            "channel.namespaces",
            {"name": "chat", "presence": "1", "history_size": "10", "history_ttl": "60s"},
        ),
        "channel.namespaces",
        [("chat", True, 10, 60.0)],
    ),
    Shape(
        "object-list-items-weak",
        at(
            "channel.namespaces", [{"name": "aa", "join_leave": 1}, {"name": "bb", "presence": "t"}]
        ),
        "channel.namespaces",
        [("aa", False, 0, 0.0), ("bb", True, 0, 0.0)],
    ),
    shape("object-list-empty-object", "channel.namespaces", {}, []),
    Shape(
        "proxies-single-object",
        {"proxies": {"name": "p1", "endpoint": "http://x", "timeout": "2s", "http_headers": "A"}},
        "proxies",
        [("p1", "http://x", 2.0, ["A"])],
    ),
    # map of strings: object or list of {key, value}
    shape("map-object", HEADERS, {"X-A": "1", "X-B": "two"}, {"X-A": "1", "X-B": "two"}),
    shape(
        "map-key-value-list",
        HEADERS,
        [{"key": "X-A", "value": "1"}, {"key": "X-B", "value": "2"}],
        {"X-A": "1", "X-B": "2"},
    ),
    shape("map-empty-list", HEADERS, [], {}),
    shape(
        "map-custom-var",
        HEADERS,
        {"Auth": "Bearer ${CENTRIFUGO_VAR_TOKEN}!"},
        {"Auth": "Bearer t0k!"},
    ),
    # other maps: list of objects merged
    Shape(
        "generic-map-merged-list",
        {"consumers": [{"name": "c1", "kafka": [{"brokers": ["b"]}, {"topics": ["t"]}]}]},
        "consumers[0].kafka",
        {"brokers": ["b"], "topics": ["t"]},
    ),
    Shape(
        "generic-map-empty-list",
        {"consumers": [{"name": "c1", "kafka": []}]},
        "consumers[0].kafka",
        {},
    ),
    # object keys match case-insensitively (mapstructure's EqualFold)
    Shape("object-keys-case-insensitive", {"Client": {"Channel_Limit": 7}}, LIMIT, 7),
]


def _normalize(read: str, value: Any) -> Any:
    if read == "channel.namespaces":
        return [(n.name, n.presence, n.history_size, n.history_ttl) for n in value]
    if read == "proxies":
        return [(p.name, p.endpoint, p.timeout, p.http_headers) for p in value]
    return value


CASES = [(s, fmt) for s in SHAPES for fmt in s.formats]


@pytest.mark.parametrize(("case", "fmt"), CASES, ids=[f"SV-02-{s.id}-{fmt}" for s, fmt in CASES])
def test_sv02_file_value_decodes_exactly(tmp_path: Path, case: Shape, fmt: str) -> None:
    """SV-02: each loose shape in JSON, YAML and TOML decodes to the exact value."""
    path = write(tmp_path, fmt, case.tree)
    loaded = load_config(path, {"CENTRIFUGO_VAR_TOKEN": "t0k"}, {})
    assert _normalize(case.read, get(loaded.config, case.read)) == case.expected
    assert [w for w in loaded.warnings if "unknown key" in w] == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_sv02_issue_example_redis_address_string(tmp_path: Path, fmt: str) -> None:
    """SV-02: the issue's config, in each format, starts with one Redis address."""
    tree = {"engine": {"type": "redis", "redis": {"address": "redis://localhost:6379"}}}
    config = load_config(write(tmp_path, fmt, tree), {}, {}).config
    assert config.engine.type == "redis"
    assert config.engine.redis.address == ["redis://localhost:6379"]


def test_sv02_issue_example_redis_address_env() -> None:
    """SV-02: CENTRIFUGO_ENGINE_REDIS_ADDRESS with one address."""
    env = {
        "CENTRIFUGO_ENGINE_TYPE": "redis",
        "CENTRIFUGO_ENGINE_REDIS_ADDRESS": "redis://localhost:6379",
    }
    assert load_config(None, env, {}).config.engine.redis.address == ["redis://localhost:6379"]


def test_sv02_duration_number_warns_below_a_millisecond(tmp_path: Path) -> None:
    """SV-02: a bare number is nanoseconds, as in Go; a tiny one is named in a warning."""
    path = write(
        tmp_path, "json", {"shutdown": {"timeout": 30}, "graphite": {"interval": 2_000_000}}
    )
    loaded = load_config(path, {}, {})
    assert loaded.config.shutdown.timeout == 3e-08
    assert loaded.config.graphite.interval == 0.002
    assert loaded.warnings == [
        "shutdown.timeout: 30 is read as 30ns (a number is nanoseconds, as in Centrifugo); "
        "write '30s' for seconds"
    ]


def test_sv02_flat_layout_numbers_are_seconds(tmp_path: Path) -> None:
    """SV-02, CH-24: bare numbers at duration keys of a flat (v2/v3) file are seconds."""
    raw = {
        "port": 8001,
        "client_expired_close_delay": 30,
        "history_size": 5,
        "history_lifetime": 60,
        "namespaces": [{"name": "ns", "history_size": 2, "history_ttl": 1.5}],
        "proxy_connect_timeout": 2,
    }
    for fmt in FORMATS:
        loaded = load_config(write(tmp_path, fmt, raw), {}, {})
        c = loaded.config
        assert c.client.expired_close_delay == 30.0
        assert c.channel.without_namespace.history_ttl == 60.0
        assert c.channel.namespaces[0].history_ttl == 1.5
        assert c.client.proxy.connect.timeout == 2.0
        assert loaded.warnings == []


YAML_PLAIN = """\
client:
  channel_limit: 0x10
  insecure: TRUE
  allowed_origins: http://a
node:
  name: on
http_server:
  address: 1:30
  internal_address: 2024-01-01
channel:
  private_prefix: yes
  namespaces:
    - name: chat
      history_size: 1_000
      history_ttl: 90s
engine:
  redis:
    prefix: 0o17
    db: 017
"""


def test_sv02_yaml_plain_scalars_resolve_as_go_yaml_v3(tmp_path: Path) -> None:
    """SV-02: YAML plain scalars as yaml.v3 reads them (yes/on/1:30/dates stay strings)."""
    path = tmp_path / "c.yaml"
    path.write_text(YAML_PLAIN)
    c = load_config(str(path), {}, {}).config
    assert c.client.channel_limit == 16
    assert c.client.insecure is True
    assert c.client.allowed_origins == ["http://a"]
    assert c.node.name == "on"
    assert c.http_server.address == "1:30"
    assert c.http_server.internal_address == "2024-01-01"
    assert c.channel.private_prefix == "yes"
    assert (c.channel.namespaces[0].history_size, c.channel.namespaces[0].history_ttl) == (
        1000,
        90.0,
    )
    assert c.engine.redis.prefix == "15"
    assert c.engine.redis.db == 15


def test_sv02_yaml_yes_is_not_a_bool(tmp_path: Path) -> None:
    """SV-02: ``insecure: yes`` is the string 'yes', which ParseBool refuses (as Centrifugo)."""
    path = tmp_path / "c.yaml"
    path.write_text("client:\n  insecure: yes\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(path), {}, {})
    assert str(info.value) == "client.insecure: expected bool, got 'yes'"


FILE_ERRORS: list[tuple[str, dict[str, Any], str]] = [
    ("int-word", at(LIMIT, "abc"), "client.channel_limit: expected int, got 'abc'"),
    ("int-decimal-string", at(LIMIT, "1.5"), "client.channel_limit: expected int, got '1.5'"),
    ("int-spaces", at(LIMIT, " 1"), "client.channel_limit: expected int, got ' 1'"),
    ("int-octal-digit", at(LIMIT, "08"), "client.channel_limit: expected int, got '08'"),
    (
        "int-out-of-range",
        at(LIMIT, "9223372036854775808"),
        "client.channel_limit: expected int, got '9223372036854775808' (value out of range)",
    ),
    ("int-list", at(LIMIT, [1]), "client.channel_limit: expected int, got [1]"),
    ("bool-yes", at(INSECURE, "yes"), "client.insecure: expected bool, got 'yes'"),
    ("bool-object", at(INSECURE, {"a": 1}), "client.insecure: expected bool, got {'a': 1}"),
    (
        "duration-unitless",
        at(TIMEOUT, "30"),
        "shutdown.timeout: expected duration, got '30' (a number needs a unit, e.g. '30s')",
    ),
    (
        "duration-empty",
        at(TIMEOUT, ""),
        "shutdown.timeout: expected duration, got '' (invalid duration \"\")",
    ),
    (
        "duration-words",
        at(TIMEOUT, "30 seconds"),
        "shutdown.timeout: expected duration, got '30 seconds' "
        '(unknown unit " seconds" in duration "30 seconds")',
    ),
    ("duration-list", at(TIMEOUT, ["1s"]), "shutdown.timeout: expected duration, got ['1s']"),
    ("string-list", at(NAME, [1]), "node.name: expected string, got [1]"),
    ("string-object", at(NAME, {"a": 1}), "node.name: expected string, got {'a': 1}"),
    (
        "list-item-object",
        at(ADDRESS, {"host": "x"}),
        "engine.redis.address[0]: expected string, got {'host': 'x'}",
    ),
    (
        "object-list-scalar",
        at("channel.namespaces", "chat"),
        "channel.namespaces: expected list of object, got 'chat'",
    ),
    (
        "object-list-item-field",
        at("channel.namespaces", [{"name": "chat", "history_size": "x"}]),
        "channel.namespaces[0].history_size: expected int, got 'x'",
    ),
    ("object-scalar", {"client": [1]}, "client: expected object, got [1]"),
    (
        "map-non-string-value",
        at(HEADERS, {"X-A": 5}),
        "client.proxy.connect.http.static_headers.X-A: expected string, got 5",
    ),
    (
        "map-duplicate-key",
        at(HEADERS, [{"key": "X-A", "value": "1"}, {"key": "X-A", "value": "2"}]),
        "client.proxy.connect.http.static_headers[1]: duplicate key 'X-A'",
    ),
    (
        "map-bad-item",
        at(HEADERS, ["X-A"]),
        "client.proxy.connect.http.static_headers[0]: expected an object with string 'key' "
        "and 'value', got 'X-A'",
    ),
    (
        "map-item-without-value",
        at(HEADERS, [{"key": "X-A"}]),
        "client.proxy.connect.http.static_headers[0].value: expected string, got None",
    ),
    (
        "map-missing-custom-var",
        at(HEADERS, {"X-A": "${CENTRIFUGO_VAR_NOPE}"}),
        "client.proxy.connect.http.static_headers.X-A: environment variable "
        "'CENTRIFUGO_VAR_NOPE' not found",
    ),
    (
        "map-scalar",
        at(HEADERS, "X-A: 1"),
        "client.proxy.connect.http.static_headers: expected object, got 'X-A: 1'",
    ),
    (
        "generic-map-list-of-scalars",
        {"consumers": [{"name": "c1", "kafka": [1]}]},
        "consumers[0].kafka[0]: expected object, got 1",
    ),
]


@pytest.mark.parametrize(
    ("case_id", "tree", "message"), FILE_ERRORS, ids=[f"SV-02-{c[0]}" for c in FILE_ERRORS]
)
def test_sv02_file_value_error_names_path_value_and_type(
    tmp_path: Path, case_id: str, tree: dict[str, Any], message: str
) -> None:
    """SV-02: a value no rule accepts fails with key path, value and expected type."""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "json", tree), {}, {})
    assert str(info.value) == message


def test_sv02_int_beyond_int64_fails(tmp_path: Path) -> None:
    """SV-02: Go ints are 64-bit."""
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "json", at(LIMIT, 2**63)), {}, {})
    assert str(info.value) == (
        "client.channel_limit: expected int, got 9223372036854775808 (value out of range)"
    )


ENV_CASES: list[tuple[str, dict[str, str], str, object]] = [
    (
        "list-one-address",
        {"CENTRIFUGO_ENGINE_REDIS_ADDRESS": "redis://h:1"},
        ADDRESS,
        ["redis://h:1"],
    ),
    (
        "list-space-separated",
        {"CENTRIFUGO_ENGINE_REDIS_ADDRESS": "redis://a:1 redis://b:2"},
        ADDRESS,
        ["redis://a:1", "redis://b:2"],
    ),
    (
        "list-any-whitespace",
        {"CENTRIFUGO_CLIENT_ALLOWED_ORIGINS": " http://a\thttp://b\n"},
        ORIGINS,
        ["http://a", "http://b"],
    ),
    (
        "list-json",
        {"CENTRIFUGO_CLIENT_ALLOWED_ORIGINS": '["http://a", 5]'},
        ORIGINS,
        ["http://a", "5"],
    ),
    ("list-comma-is-one-item", {"CENTRIFUGO_CLIENT_ALLOWED_ORIGINS": "a,b"}, ORIGINS, ["a,b"]),
    ("int-hex", {"CENTRIFUGO_CLIENT_CHANNEL_LIMIT": "0x10"}, LIMIT, 16),
    ("int-underscores", {"CENTRIFUGO_CLIENT_CHANNEL_LIMIT": "1_000"}, LIMIT, 1000),
    ("int-negative", {"CENTRIFUGO_CLIENT_CHANNEL_LIMIT": "-3"}, LIMIT, -3),
    ("int-empty-is-unset", {"CENTRIFUGO_CLIENT_CHANNEL_LIMIT": ""}, LIMIT, 128),
    ("bool-T", {"CENTRIFUGO_CLIENT_INSECURE": "T"}, INSECURE, True),
    ("bool-1", {"CENTRIFUGO_CLIENT_INSECURE": "1"}, INSECURE, True),
    ("bool-FALSE", {"CENTRIFUGO_CLIENT_INSECURE": "FALSE"}, INSECURE, False),
    ("duration", {"CENTRIFUGO_SHUTDOWN_TIMEOUT": "1m30s"}, TIMEOUT, 90.0),
    ("duration-zero", {"CENTRIFUGO_SHUTDOWN_TIMEOUT": "0"}, TIMEOUT, 0.0),
    ("string-digits", {"CENTRIFUGO_NODE_NAME": "8000"}, NAME, "8000"),
    ("string-kept-verbatim", {"CENTRIFUGO_NODE_NAME": " a b "}, NAME, " a b "),
    ("pem", {"CENTRIFUGO_HTTP_SERVER_TLS_CERT_PEM": PEM}, "http_server.tls.cert_pem", PEM),
    (
        "namespaces-json-loose-inner",
        {
            "CENTRIFUGO_CHANNEL_NAMESPACES": '[{"name": "chat", "presence": "1", '
            '"history_size": "0x0a", "history_ttl": 60000000000}]'
        },
        "channel.namespaces",
        [("chat", True, 10, 60.0)],
    ),
    (
        "namespaces-names-then-fields",
        {
            "CENTRIFUGO_CHANNEL_NAMESPACES": "aa bb",
            "CENTRIFUGO_CHANNEL_NAMESPACES_BB_HISTORY_SIZE": "0x2",
            "CENTRIFUGO_CHANNEL_NAMESPACES_BB_HISTORY_TTL": "5s",
            "CENTRIFUGO_CHANNEL_NAMESPACES_AA_PRESENCE": "t",
        },
        "channel.namespaces",
        [("aa", True, 0, 0.0), ("bb", False, 2, 5.0)],
    ),
    (
        "proxies-json",
        {"CENTRIFUGO_PROXIES": '[{"name": "p1", "endpoint": "http://x", "timeout": "3s"}]'},
        "proxies",
        [("p1", "http://x", 3.0, [])],
    ),
    (
        "map-json-object",
        {"CENTRIFUGO_CLIENT_PROXY_CONNECT_HTTP_STATIC_HEADERS": '{"X-A": "1"}'},
        HEADERS,
        {"X-A": "1"},
    ),
    (
        "map-json-key-values",
        {"CENTRIFUGO_CLIENT_PROXY_CONNECT_HTTP_STATIC_HEADERS": '[{"key": "X-A", "value": "1"}]'},
        HEADERS,
        {"X-A": "1"},
    ),
    (
        "map-custom-var",
        {
            "CENTRIFUGO_CLIENT_PROXY_CONNECT_HTTP_STATIC_HEADERS": '{"X-A": "${CENTRIFUGO_VAR_K}"}',
            "CENTRIFUGO_VAR_K": "v",
        },
        HEADERS,
        {"X-A": "v"},
    ),
    (
        "generic-map-json",
        {"CENTRIFUGO_BROKER_NATS_RAW_MODE_CHANNEL_REPLACEMENTS": '{"a": "b"}'},
        "broker.nats.raw_mode.channel_replacements",
        {"a": "b"},
    ),
]


@pytest.mark.parametrize(
    ("case_id", "env", "read", "expected"), ENV_CASES, ids=[f"SV-02-{c[0]}" for c in ENV_CASES]
)
def test_sv02_env_value_decodes_exactly(
    case_id: str, env: dict[str, str], read: str, expected: object
) -> None:
    """SV-02: CENTRIFUGO_* text parsed as Centrifugo's envconfig does."""
    loaded = load_config(None, env, {})
    assert _normalize(read, get(loaded.config, read)) == expected
    assert loaded.warnings == []


def test_sv02_empty_env_keeps_file_value(tmp_path: Path) -> None:
    """SV-02: an empty variable is unset; the file's value stays."""
    path = write(tmp_path, "json", {"client": {"channel_limit": 7, "allowed_origins": ["x"]}})
    env = {"CENTRIFUGO_CLIENT_CHANNEL_LIMIT": "", "CENTRIFUGO_CLIENT_ALLOWED_ORIGINS": ""}
    c = load_config(path, env, {}).config
    assert (c.client.channel_limit, c.client.allowed_origins) == (7, ["x"])


ENV_ERRORS: list[tuple[str, dict[str, str], str]] = [
    (
        "int",
        {"CENTRIFUGO_CLIENT_CHANNEL_LIMIT": "abc"},
        "client.channel_limit: expected int, got 'abc' (from CENTRIFUGO_CLIENT_CHANNEL_LIMIT)",
    ),
    (
        "int-with-space",
        {"CENTRIFUGO_CLIENT_CHANNEL_LIMIT": "5 "},
        "client.channel_limit: expected int, got '5 ' (from CENTRIFUGO_CLIENT_CHANNEL_LIMIT)",
    ),
    (
        "bool-yes",
        {"CENTRIFUGO_CLIENT_INSECURE": "yes"},
        "client.insecure: expected bool, got 'yes' (from CENTRIFUGO_CLIENT_INSECURE)",
    ),
    (
        "duration-unitless",
        {"CENTRIFUGO_SHUTDOWN_TIMEOUT": "30"},
        "shutdown.timeout: expected duration, got '30' (a number needs a unit, e.g. '30s') "
        "(from CENTRIFUGO_SHUTDOWN_TIMEOUT)",
    ),
    (
        "list-item",
        {"CENTRIFUGO_CLIENT_ALLOWED_ORIGINS": '["a", [1]]'},
        "client.allowed_origins[1]: expected string, got [1] "
        "(from CENTRIFUGO_CLIENT_ALLOWED_ORIGINS)",
    ),
    (
        "bad-json-list",
        {"CENTRIFUGO_CLIENT_ALLOWED_ORIGINS": "[a"},
        "client.allowed_origins: expected list of string, got '[a' (invalid JSON: Expecting "
        "value: line 1 column 2 (char 1)) (from CENTRIFUGO_CLIENT_ALLOWED_ORIGINS)",
    ),
    (
        "object-list-not-json",
        {"CENTRIFUGO_CLIENT_CONNECT_CODE_TO_UNIDIRECTIONAL_DISCONNECT_TRANSFORMS": "x"},
        "client.connect_code_to_unidirectional_disconnect.transforms: expected list of object, "
        "got 'x' (a JSON array) (from "
        "CENTRIFUGO_CLIENT_CONNECT_CODE_TO_UNIDIRECTIONAL_DISCONNECT_TRANSFORMS)",
    ),
    (
        "named-field",
        {
            "CENTRIFUGO_CHANNEL_NAMESPACES": "aa",
            "CENTRIFUGO_CHANNEL_NAMESPACES_AA_HISTORY_SIZE": "x",
        },
        "channel.namespaces[0].history_size: expected int, got 'x' "
        "(from CENTRIFUGO_CHANNEL_NAMESPACES_AA_HISTORY_SIZE)",
    ),
    (
        "map-value",
        {"CENTRIFUGO_CLIENT_PROXY_CONNECT_HTTP_STATIC_HEADERS": '{"X-A": 1}'},
        "client.proxy.connect.http.static_headers.X-A: expected string, got 1 "
        "(from CENTRIFUGO_CLIENT_PROXY_CONNECT_HTTP_STATIC_HEADERS)",
    ),
]


@pytest.mark.parametrize(
    ("case_id", "env", "message"), ENV_ERRORS, ids=[f"SV-02-{c[0]}" for c in ENV_ERRORS]
)
def test_sv02_env_value_error_names_variable(
    case_id: str, env: dict[str, str], message: str
) -> None:
    """SV-02: a variable that does not parse names the key path, value, type and variable."""
    with pytest.raises(ConfigError) as info:
        load_config(None, env, {})
    assert str(info.value) == message


def test_sv02_kubernetes_and_custom_vars_are_not_unknown() -> None:
    """SV-02: CENTRIFUGO_VAR_* and Kubernetes service variables are skipped, as in Centrifugo;
    a Kubernetes CENTRIFUGO_PORT does not break the flat ``port`` spelling."""
    env = {
        "CENTRIFUGO_VAR_SECRET": "x",
        "CENTRIFUGO_SERVICE_HOST": "10.0.0.1",
        "CENTRIFUGO_SERVICE_PORT": "8000",
        "CENTRIFUGO_PORT": "tcp://10.0.0.1:8000",
        "CENTRIFUGO_PORT_8000_TCP_ADDR": "10.0.0.1",
        "CENTRIFUGO_NOT_A_KEY": "1",
    }
    loaded = load_config(None, env, {})
    assert loaded.config.http_server.port == 8000
    assert loaded.warnings == [
        "unknown environment variable CENTRIFUGO_NOT_A_KEY",
        "ignored CENTRIFUGO_PORT='tcp://10.0.0.1:8000': not a value for http_server.port; "
        "it looks like a variable Kubernetes sets for a service",
    ]
    assert load_config(None, {"CENTRIFUGO_PORT": "9001"}, {}).config.http_server.port == 9001


FLAG_CASES: list[tuple[str, dict[str, object], str, object]] = [
    ("port-hex", {"http_server.port": "0x1F40"}, "http_server.port", 8000),
    ("port-empty-is-zero", {"http_server.port": ""}, "http_server.port", 0),
    ("bool-T", {INSECURE: "T"}, INSECURE, True),
    ("bool-typed-int", {INSECURE: 1}, INSECURE, True),
    ("duration", {"client.ping_interval": "30s"}, "client.ping_interval", 30.0),
    ("list-one-address", {ADDRESS: "redis://x:1"}, ADDRESS, ["redis://x:1"]),
    ("list-words", {ADDRESS: "redis://x:1 redis://y:2"}, ADDRESS, ["redis://x:1", "redis://y:2"]),
    ("string", {"log.file": "8000"}, "log.file", "8000"),
    ("typed-string-from-int", {"log.file": 5}, "log.file", "5"),
]


@pytest.mark.parametrize(
    ("case_id", "flags", "read", "expected"), FLAG_CASES, ids=[f"SV-02-{c[0]}" for c in FLAG_CASES]
)
def test_sv02_flag_value_decodes_exactly(
    case_id: str, flags: dict[str, object], read: str, expected: object
) -> None:
    """SV-02: flag text by the envconfig rules; empty text and typed values by the file rules."""
    assert get(load_config(None, {}, flags).config, read) == expected


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            {"http_server.port": "x"},
            "http_server.port: expected int, got 'x' (from a command-line flag)",
        ),
        (
            {"client.ping_interval": "30"},
            "client.ping_interval: expected duration, got '30' (a number needs a unit, "
            "e.g. '30s') (from a command-line flag)",
        ),
        (
            {INSECURE: "on"},
            "client.insecure: expected bool, got 'on' (from a command-line flag)",
        ),
    ],
)
def test_sv02_flag_value_error(flags: dict[str, object], message: str) -> None:
    """SV-02: a flag that does not parse names the key path, value and type."""
    with pytest.raises(ConfigError) as info:
        load_config(None, {}, flags)
    assert str(info.value) == message


def test_sv02_cli_flags_follow_the_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SV-02, SV-15: ``-p 0x1F41 --client.insecure=1 --redis_address redis://h:1``."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.startswith("CENTRIFUGO_")]:
        monkeypatch.delenv(name)
    seen: list[schema.Config] = []
    module = types.ModuleType("centripetal.server")
    module.run = lambda config: seen.append(config) or 3  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "centripetal.server", module)
    import centripetal

    monkeypatch.setattr(centripetal, "server", module, raising=False)
    argv = ["-p", "0x1F41", "--client.insecure=1", "--redis_address", "redis://h:1"]
    assert cli.main(argv) == 3
    (config,) = seen
    assert config.http_server.port == 8001
    assert config.client.insecure is True
    assert config.engine.redis.address == ["redis://h:1"]


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("-0x10", -16), ("0B11", 3), ("0O7", 7), ("0x_F", 15), ("9_9", 99)],
)
def test_sv02_go_parse_int(text: str, value: int) -> None:
    """SV-02: Go strconv.ParseInt(s, 0, 64)."""
    assert parse_int(text) == value


@pytest.mark.parametrize("text", ["", "-", "0x", "_1", "1_", "1__0", "08", "1e3", "٣", "+-1"])
def test_sv02_go_parse_int_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_int(text)


def test_sv02_go_parse_bool_set() -> None:
    """SV-02: Go strconv.ParseBool accepts exactly these spellings."""
    assert [parse_bool(t) for t in ["1", "t", "T", "TRUE", "true", "True"]] == [True] * 6
    assert [parse_bool(t) for t in ["0", "f", "F", "FALSE", "false", "False"]] == [False] * 6
    for text in ["yes", "no", "on", "off", "tRUE", " true", ""]:
        with pytest.raises(ValueError):
            parse_bool(text)


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1.5, "1.5"),
        (3.0, "3"),
        (1e21, "1000000000000000000000"),
        (1e-7, "0.0000001"),
        (-0.0, "-0"),
        (0.1, "0.1"),
    ],
)
def test_sv02_go_format_float(number: float, text: str) -> None:
    """SV-02: Go strconv.FormatFloat(f, 'f', -1, 64)."""
    assert format_float(number) == text
