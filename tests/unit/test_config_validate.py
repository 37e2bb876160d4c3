"""Validation errors name the key path and the value (CH-08, CH-60..CH-62, P-53, SV-03)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from centripetal.config import ConfigError, load_config


def _load(tmp_path: Path, tree: dict[str, Any], env: dict[str, str] | None = None) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(tree))
    load_config(str(path), env or {}, {})


CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "AU-06 JWKS URL template",
        {"client": {"token": {"jwks_public_endpoint": "https://{{tenant}}.example/jwks"}}},
        r"^client\.token\.jwks_public_endpoint: URL templates \(\{\{\.\.\.\}\}\) are not "
        r"supported; give the full JWKS URL$",
    ),
    (
        "CH-08 bad name",
        {"channel": {"namespaces": [{"name": "a b"}]}},
        r"^channel\.namespaces\[0\]\.name: invalid namespace name 'a b' "
        r"\(must match \^\[-a-zA-Z0-9_\.\]\{2,\}\$\)$",
    ),
    (
        "CH-08 duplicate",
        {"channel": {"namespaces": [{"name": "ab"}, {"name": "ab"}]}},
        r"^channel\.namespaces\[1\]\.name: duplicate namespace name 'ab'$",
    ),
    (
        "CH-60 size without ttl",
        {"channel": {"without_namespace": {"history_size": 10}}},
        r"^channel\.without_namespace\.history_ttl: history_size \(10\) and history_ttl \(0s\)",
    ),
    (
        "CH-60 recovery needs history",
        {"channel": {"namespaces": [{"name": "ns", "force_recovery": True}]}},
        r"^channel\.namespaces\[0\]\.force_recovery: recovery requires history",
    ),
    (
        "CH-60 ttl above meta ttl",
        {
            "channel": {
                "history_meta_ttl": "1h",
                "without_namespace": {"history_size": 1, "history_ttl": "2h"},
            }
        },
        r"^channel\.without_namespace\.history_ttl: 2h0m0s exceeds history_meta_ttl 1h0m0s$",
    ),
    (
        "CH-61 delta type",
        {"channel": {"without_namespace": {"allowed_delta_types": ["xdelta"]}}},
        r"^channel\.without_namespace\.allowed_delta_types\[0\]: unknown delta type 'xdelta'",
    ),
    (
        "CH-61 recovery mode",
        {"channel": {"without_namespace": {"force_recovery_mode": "fast"}}},
        r"^channel\.without_namespace\.force_recovery_mode: unknown mode 'fast'",
    ),
    (
        "CH-61 data format",
        {"channel": {"without_namespace": {"publication_data_format": "xml"}}},
        r"^channel\.without_namespace\.publication_data_format: unknown publication data "
        r"format 'xml'",
    ),
    (
        "CH-61 proxy name",
        {"channel": {"namespaces": [{"name": "ns", "subscribe_proxy_name": "nope"}]}},
        r"^channel\.namespaces\[0\]\.subscribe_proxy_name: unknown proxy 'nope'",
    ),
    (
        "CH-61 stream proxy",
        {
            "channel": {
                "without_namespace": {
                    "subscribe_stream_proxy_enabled": True,
                    "subscribe_proxy_enabled": True,
                }
            }
        },
        r"^channel\.without_namespace\.subscribe_stream_proxy_enabled: can not be used together "
        r"with subscribe_proxy_enabled$",
    ),
    (
        "CH-62 single connection needs presence",
        {
            "client": {
                "subscribe_to_user_personal_channel": {"enabled": True, "single_connection": True}
            }
        },
        r"^client\.subscribe_to_user_personal_channel\.single_connection: requires presence",
    ),
    (
        "SV-14 personal namespace exists",
        {"client": {"subscribe_to_user_personal_channel": {"personal_channel_namespace": "pp"}}},
        r"^client\.subscribe_to_user_personal_channel\.personal_channel_namespace: "
        r"namespace 'pp' not found",
    ),
    (
        "P-53 ping > pong",
        {"client": {"ping_interval": "5s", "pong_timeout": "8s"}},
        r"^client\.pong_timeout: 8s must be less than client\.ping_interval 5s$",
    ),
    (
        "engine type",
        {"engine": {"type": "tarantool"}},
        r"^engine\.type: unknown engine type 'tarantool' \(allowed: 'memory', 'redis'\)$",
    ),
    ("log level", {"log": {"level": "loud"}}, r"^log\.level: unknown log level 'loud'"),
    (
        "port range",
        {"http_server": {"port": 70000}},
        r"^http_server\.port: invalid port 70000 \(must be 0\.\.65535\)$",
    ),
    (
        "channel_regex",
        {"channel": {"namespaces": [{"name": "ns", "channel_regex": "("}]}},
        r"^channel\.namespaces\[0\]\.channel_regex: invalid regular expression '\('",
    ),
    (
        "type error int",
        {"http_server": {"port": "abc"}},
        r"^http_server\.port: expected int, got 'abc'$",
    ),
    (
        "type error nested list",
        {"channel": {"namespaces": [{"name": "ns", "presence": "maybe"}]}},
        r"^channel\.namespaces\[0\]\.presence: expected bool, got 'maybe'$",
    ),
    (
        "bad duration",
        {"client": {"ping_interval": "25 seconds"}},
        r"^client\.ping_interval: expected duration, got '25 seconds' "
        r"\(unknown unit \" seconds\" in duration \"25 seconds\"\)$",
    ),
    (
        "admin type",
        {"admin": {"enabled": "sure"}},
        r"^admin\.enabled: expected bool, got 'sure'$",
    ),
    (
        "proxy name",
        {"proxies": [{"name": "x", "endpoint": "http://x"}]},
        r"^proxies\[0\]\.name: invalid proxy name 'x'",
    ),
]


@pytest.mark.parametrize(("case", "tree", "pattern"), CASES, ids=[c[0] for c in CASES])
def test_bad_value_fails_with_key_path(
    tmp_path: Path, case: str, tree: dict[str, Any], pattern: str
) -> None:
    with pytest.raises(ConfigError, match=pattern):
        _load(tmp_path, tree)


def test_bad_env_value_names_path(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^client\.channel_limit: expected int, got 'many' "
        r"\(from CENTRIFUGO_CLIENT_CHANNEL_LIMIT\)$",
    ):
        _load(tmp_path, {}, {"CENTRIFUGO_CLIENT_CHANNEL_LIMIT": "many"})


def test_bad_flag_path() -> None:
    with pytest.raises(ConfigError, match=r"^client\.nothing: unknown flag$"):
        load_config(None, {}, {"client.nothing": "1"})


@pytest.mark.parametrize(
    "tree",
    [
        {"client": {"ping_interval": "-1s", "pong_timeout": "8s"}},
        {"client": {"ping_interval": "25s", "pong_timeout": "-1s"}},
        {"channel": {"without_namespace": {"history_size": 2, "history_ttl": "720h"}}},
        {
            "proxies": [{"name": "p1"}],
            "channel": {"without_namespace": {"publish_proxy_name": "p1"}},
        },
    ],
)
def test_valid_edge_values_pass(tmp_path: Path, tree: dict[str, Any]) -> None:
    _load(tmp_path, tree)
