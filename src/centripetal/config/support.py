"""What centripetal does with every configuration key (SV-02, docs/configuration.md).

Each schema key path is matched by the first row of ``SUPPORT`` whose pattern fits it
(``fnmatch`` patterns over paths written ``channel.namespaces[].presence``). A row says:

* ``honoured`` - the key works as Centrifugo documents it; the note cites the test that
  shows it (``tests/...py::test_name``);
* ``noop`` - accepted with no effect because centripetal already behaves the way the key
  asks (the note says why);
* ``warned`` - the feature is not available: a value other than the default is named at
  startup and by ``checkconfig`` (``--strict`` fails on it);
* ``refused`` - ignoring the key would weaken security or delivery guarantees: a value
  other than the default stops the server from starting.

``review(config)`` applies the table to a decoded configuration; a test walks the whole
schema and fails for any key without a row or any honoured row whose test is missing.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from msgspec import inspect as mi

from centripetal.config import schema
from centripetal.config.tree import ADMIN_DEFAULTS, CONFIG_TYPE, ConfigError, fields_of, unwrap

__all__ = ["SUPPORT", "Finding", "Row", "review", "row_for", "schema_paths"]

Status = Literal["honoured", "noop", "warned", "refused"]


@dataclass(frozen=True)
class Row:
    """One line of the support table."""

    patterns: tuple[str, ...]
    status: Status
    note: str

    def matches(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, p) for p in self.patterns)


@dataclass(frozen=True)
class Finding:
    """A key set to a value centripetal cannot honour."""

    path: str
    status: Status
    note: str

    def message(self) -> str:
        verb = "refused" if self.status == "refused" else "not supported"
        return f"{self.path}: {verb}: {self.note}"


def _item_struct(t: mi.Type) -> mi.StructType | None:
    """The struct type of a list of objects (``channel.namespaces``), or None."""
    if isinstance(t, mi.ListType) and isinstance(t.item_type, mi.StructType):
        return t.item_type
    return None


def schema_paths(t: mi.StructType = CONFIG_TYPE, prefix: str = "") -> Iterator[str]:
    """Every key path of the schema: objects are walked, lists of objects are walked as
    ``name[]``, other lists and maps are leaves."""
    for name, sub in fields_of(t).items():
        path = f"{prefix}.{name}" if prefix else name
        sub = unwrap(sub)
        if isinstance(sub, mi.StructType):
            yield from schema_paths(sub, path)
            continue
        yield path
        item = _item_struct(sub)
        if item is not None:
            yield from schema_paths(item, f"{path}[]")


def row_for(path: str) -> Row | None:
    """The first row of ``SUPPORT`` that covers ``path``."""
    for row in SUPPORT:
        if row.matches(path):
            return row
    return None


def _defaults_of(t: mi.StructType) -> dict[str, Any]:
    value: dict[str, Any] = msgspec.to_builtins(t.cls())
    if t.cls is schema.Config:
        value["admin"] = dict(ADMIN_DEFAULTS)
    return value


def _set_values(
    value: dict[str, Any], default: dict[str, Any], t: mi.StructType, prefix: str, shape: str
) -> Iterator[tuple[str, str, object]]:
    """(concrete path, schema path, value) of every leaf whose value is not its default."""
    for name, sub in fields_of(t).items():
        sub = unwrap(sub)
        path = f"{prefix}.{name}" if prefix else name
        pattern = f"{shape}.{name}" if shape else name
        got, base = value.get(name), default.get(name)
        if isinstance(sub, mi.StructType) and isinstance(got, dict):
            yield from _set_values(got, base if isinstance(base, dict) else {}, sub, path, pattern)
            continue
        item = _item_struct(sub)
        if item is not None and isinstance(got, list):
            item_default = _defaults_of(item)
            for i, entry in enumerate(got):
                if isinstance(entry, dict):
                    yield from _set_values(
                        entry, item_default, item, f"{path}[{i}]", f"{pattern}[]"
                    )
            continue
        if got != base:
            yield path, pattern, got


def review(config: schema.Config) -> list[Finding]:
    """Keys of ``config`` set to something centripetal does not do (warned or refused)."""
    value: dict[str, Any] = msgspec.to_builtins(config)
    found: list[Finding] = []
    for path, pattern, _ in _set_values(value, _defaults_of(CONFIG_TYPE), CONFIG_TYPE, "", ""):
        row = row_for(pattern)
        if row is not None and row.status in ("warned", "refused"):
            found.append(Finding(path, row.status, row.note))
    return found


def check(config: schema.Config) -> list[str]:
    """Warnings for the ``warned`` keys; raises ``ConfigError`` naming every refused key."""
    findings = review(config)
    refused = [f.message() for f in findings if f.status == "refused"]
    if refused:
        raise ConfigError("; ".join(refused))
    return [f.message() for f in findings]


# The proxy objects (PX-27) and the TLS objects share their fields; rows name them once.
PROXIES = (
    "client.proxy.connect", "client.proxy.refresh", "channel.proxy.subscribe",
    "channel.proxy.publish", "channel.proxy.sub_refresh", "channel.proxy.subscribe_stream",
    "rpc.proxy", "proxies[]",
)  # fmt: skip
NAMESPACES = ("channel.without_namespace", "channel.namespaces[]")
REDIS = ("engine.redis", "broker.redis", "presence_manager.redis")
UNI = ("uni_sse", "uni_http_stream")

_T_UNI = "tests/integration/test_uni_transports.py::"
_T_TLS = "tests/integration/test_tls.py::"
_T_TLSU = "tests/unit/test_tls_contexts.py::"
_T_HTTP = "tests/integration/test_hostile_http.py::"
_T_API = "tests/integration/test_api_cent.py::"
_T_SESSION = "tests/unit/test_session.py::"
_T_TOKENS = "tests/unit/test_tokens.py::"
_T_PROXY = "tests/integration/test_proxy_events.py::"
_T_WIRE = "tests/unit/test_proxy_wire.py::"
_T_PERM = "tests/unit/test_permissions.py::"
_T_REDIS = "tests/integration/test_redis_engine.py::"
_T_ADDR = "tests/integration/test_redis_addresses.py::"
_T_NATS = "tests/integration/test_nats_config.py::"
_T_LIFE = "tests/integration/test_server_lifecycle.py::"
_T_KEYS = "tests/unit/test_config_honoured.py::"
_T_LIVE = "tests/integration/test_config_honoured.py::"


def _under(prefixes: tuple[str, ...], *names: str) -> tuple[str, ...]:
    return tuple(f"{p}.{n}" for p in prefixes for n in names)


def _row(patterns: str | tuple[str, ...], status: Status, note: str) -> Row:
    return Row((patterns,) if isinstance(patterns, str) else patterns, status, note)


_NO_GRPC = "GRPC proxies are not available (only http:// and https:// endpoints are served)"

SUPPORT: tuple[Row, ...] = (
    # -- http_server (SV-01, docs/security.md) --
    _row("http_server.address", "honoured", _T_KEYS + "test_listen_addresses"),
    _row("http_server.port", "honoured", _T_LIFE + "test_sigterm_disconnects_with_3001_and_exits"),
    _row("http_server.internal_address", "honoured", _T_KEYS + "test_listen_addresses"),
    _row("http_server.internal_port", "honoured", _T_API + "test_internal_port_serves_api_api_09"),
    _row(
        ("http_server.tls.*", "http_server.internal_tls.*", "http_server.tls_external"),
        "honoured",
        _T_TLS + "test_internal_port_rules",
    ),
    _row(
        "http_server.tls_autocert.enabled",
        "refused",
        "ACME (Let's Encrypt) certificates are not available; give http_server.tls a "
        "certificate instead",
    ),
    _row(
        "http_server.tls_autocert.*",
        "warned",
        "used only by http_server.tls_autocert, which is not available",
    ),
    _row(
        ("http_server.max_header_bytes", "http_server.max_header_count"),
        "honoured",
        _T_HTTP + "test_configured_head_limits_are_honoured",
    ),
    _row(
        "http_server.read_header_timeout",
        "honoured",
        _T_HTTP + "test_slowloris_head_is_closed_at_read_header_timeout",
    ),
    _row(
        "http_server.read_timeout",
        "honoured",
        _T_HTTP + "test_body_shorter_than_declared_gets_408_at_read_timeout",
    ),
    _row(
        "http_server.idle_timeout",
        "honoured",
        _T_HTTP + "test_idle_keep_alive_connection_is_closed_at_idle_timeout",
    ),
    # -- log, node, shutdown, pid file (SV-03, EN-11) --
    _row("log.level", "honoured", "tests/unit/test_logs.py::test_level_is_the_callers"),
    _row("log.file", "honoured", _T_KEYS + "test_log_file_receives_the_log"),
    _row("node.name", "honoured", "tests/unit/test_api_executor.py::test_info_api_21"),
    _row(
        "node.info_metrics_aggregate_interval",
        "warned",
        "node metrics are not aggregated into the info API answer",
    ),
    _row("shutdown.timeout", "honoured", _T_KEYS + "test_shutdown_timeout_bounds_the_drain"),
    _row("pid_file", "honoured", _T_KEYS + "test_pid_file_is_written"),
    # -- engines and brokers (EN-01..EN-08, PR-05) --
    _row(
        (
            "engine.type",
            "broker.enabled",
            "broker.type",
            "presence_manager.enabled",
            "presence_manager.type",
        ),
        "honoured",
        _T_NATS + "test_presence_manager_section_replaces_presence",
    ),
    _row(
        _under(REDIS, "address", "db", "user", "password"),
        "honoured",
        _T_ADDR + "test_config_section_credentials_and_kinds",
    ),
    _row(
        _under(REDIS, "prefix"),
        "honoured",
        _T_NATS + "test_redis_broker_section_uses_its_own_redis_settings",
    ),
    _row(
        _under(REDIS, "connect_timeout", "io_timeout"),
        "honoured",
        _T_REDIS + "test_publish_to_dead_redis_is_engine_error",
    ),
    _row(_under(REDIS, "client_name"), "honoured", _T_LIVE + "test_redis_client_name"),
    _row(
        _under(REDIS, "tls.*"),
        "honoured",
        "tests/integration/test_tls_engines.py::test_redis_client_certificate",
    ),
    _row(
        _under(REDIS, "cluster_address"),
        "honoured",
        "tests/integration/test_redis_topologies.py::test_cluster_publish_history_pubsub",
    ),
    _row(
        _under(
            REDIS,
            "sentinel_address",
            "sentinel_master_name",
            "sentinel_user",
            "sentinel_password",
            "sentinel_client_name",
        ),
        "honoured",
        _T_LIVE + "test_sentinel_credentials_and_client_names",
    ),
    _row(
        _under(REDIS, "sentinel_tls.*"),
        "refused",
        "TLS to Redis Sentinel is not available; the connection would be plain text",
    ),
    _row(_under(REDIS, "presence_ttl"), "honoured", _T_REDIS + "test_presence_layout_and_ttl"),
    _row(
        _under(REDIS, "history_use_lists"),
        "honoured",
        "tests/integration/test_redis_list_history.py::test_history_use_lists_from_config_en03",
    ),
    _row(
        _under(REDIS, "presence_user_mapping"),
        "honoured",
        "tests/integration/test_redis_presence_layouts.py::test_user_mapping_from_config_en03",
    ),
    _row(
        _under(REDIS, "presence_hash_field_ttl"),
        "honoured",
        "tests/integration/test_redis_presence_layouts.py::test_hash_field_ttl_layout_on_redis_74_pr05",
    ),
    _row(
        _under(REDIS, "replica_client.enabled"),
        "honoured",
        "tests/integration/test_redis_replicas.py::test_sentinel_presence_reads_from_replica_en03",
    ),
    _row(
        _under(REDIS, "force_resp2"),
        "honoured",
        "tests/integration/test_redis_protocol.py::test_force_resp2_pins_resp2_en03",
    ),
    _row(
        ("broker.nats.url", "broker.nats.prefix", "broker.nats.tls.*"),
        "honoured",
        "tests/integration/test_tls_engines.py::test_nats_over_tls",
    ),
    _row(
        ("broker.nats.dial_timeout", "broker.nats.write_timeout"),
        "honoured",
        "tests/integration/test_nats_broker.py::test_run_against_no_server_fails_with_engine_error",
    ),
    _row("broker.nats.allow_wildcards", "honoured", _T_LIVE + "test_nats_allow_wildcards"),
    _row(
        "broker.nats.raw_mode.enabled",
        "refused",
        "NATS raw mode is not available; publications would not reach raw subjects",
    ),
    _row("broker.nats.raw_mode.*", "warned", "used only by NATS raw mode, which is not available"),
    # -- client (SV-09, SV-11, SV-14, AU-*, P-5x) --
    _row(
        (
            "client.token.insecure_skip_jwks_endpoint_safety_check",
            "client.subscription_token.insecure_skip_jwks_endpoint_safety_check",
        ),
        "noop",
        "JWKS URL templates, which the check guards, are refused at start",
    ),
    _row(
        (
            "client.token.hmac_secret_key",
            "client.subscription_token.hmac_secret_key",
            "client.token.hmac_previous_secret_key",
            "client.token.hmac_previous_secret_key_valid_until",
            "client.subscription_token.hmac_previous_secret_key",
            "client.subscription_token.hmac_previous_secret_key_valid_until",
        ),
        "honoured",
        _T_TOKENS + "test_previous_hmac_key_valid_until",
    ),
    _row(
        ("client.token.rsa_public_key", "client.subscription_token.rsa_public_key"),
        "honoured",
        _T_TOKENS + "test_rsa_algorithms_accepted",
    ),
    _row(
        ("client.token.ecdsa_public_key", "client.subscription_token.ecdsa_public_key"),
        "honoured",
        _T_TOKENS + "test_ecdsa_algorithm_follows_key_curve",
    ),
    _row(
        ("client.token.jwks_public_endpoint", "client.subscription_token.jwks_public_endpoint"),
        "honoured",
        "tests/unit/test_tokens_jwks.py::test_tokens_verified_with_fetched_rsa_ec_okp_keys",
    ),
    _row(
        ("client.token.user_id_claim", "client.subscription_token.user_id_claim"),
        "honoured",
        _T_TOKENS + "test_user_id_claim_dotted_path",
    ),
    _row(
        "client.subscription_token.enabled",
        "honoured",
        _T_KEYS + "test_separate_subscription_token_keys",
    ),
    _row(
        ("client.token.*", "client.subscription_token.*"),
        "honoured",
        _T_TOKENS + "test_audience_and_issuer_exact_match",
    ),
    _row(
        "client.allowed_origins",
        "honoured",
        "tests/integration/test_python_client.py::test_disallowed_origin_is_403",
    ),
    _row(
        "client.allow_anonymous_connect_without_token",
        "honoured",
        "tests/integration/test_python_client.py::test_anonymous_connect_without_token",
    ),
    _row(
        "client.disallow_anonymous_connection_tokens",
        "honoured",
        _T_SESSION + "test_disallow_anonymous_connection_tokens_3507_au08",
    ),
    _row(
        "client.insecure",
        "honoured",
        "tests/integration/test_python_client.py::test_insecure_client_subscribes_and_publishes",
    ),
    _row(
        "client.insecure_skip_token_signature_verify",
        "honoured",
        _T_TOKENS + "test_skip_signature_accepts_any_signature_but_checks_claims",
    ),
    _row("client.user_id_http_header", "honoured", _T_KEYS + "test_user_id_http_header"),
    _row(
        ("client.ping_interval", "client.pong_timeout"),
        "honoured",
        "tests/integration/test_python_client.py::test_no_pong_closes_3012",
    ),
    _row(
        "client.expired_close_delay",
        "honoured",
        _T_PROXY + "test_px11_refresh_proxy_keeps_connection_then_expired_closes_3005",
    ),
    _row("client.expired_sub_close_delay", "honoured", _T_KEYS + "test_expired_sub_close_delay"),
    _row("client.stale_close_delay", "honoured", _T_SESSION + "test_stale_connection_3502_p93"),
    _row(
        "client.presence_update_interval",
        "honoured",
        _T_SESSION + "test_presence_is_refreshed_periodically_pr01",
    ),
    _row(
        "client.channel_position_check_delay",
        "honoured",
        _T_SESSION + "test_position_check_detects_lost_publication_hr03",
    ),
    _row(
        "client.channel_position_max_time_lag",
        "honoured",
        "tests/unit/test_position_lag.py::test_publication_later_than_max_lag_is_insufficient_state_hr03",
    ),
    _row(
        "client.connect_include_server_time",
        "honoured",
        _T_KEYS + "test_connect_include_server_time",
    ),
    _row(
        "client.channel_limit",
        "honoured",
        _T_SESSION + "test_already_subscribed_105_and_channel_limit_106",
    ),
    _row("client.queue_max_size", "honoured", _T_LIFE + "test_slow_consumer_disconnected_3008"),
    _row(
        "client.user_connection_limit",
        "honoured",
        _T_SESSION + "test_user_connection_limit_3504_p97",
    ),
    _row("client.connection_limit", "honoured", _T_LIFE + "test_connection_limit_answers_503"),
    _row(
        "client.connection_rate_limit",
        "honoured",
        _T_LIFE + "test_connection_rate_limit_answers_503",
    ),
    _row(
        "client.concurrency",
        "honoured",
        "tests/integration/test_python_client.py::test_client_concurrency_overlaps_commands_p26_p27",
    ),
    _row(
        ("client.history_max_publication_limit", "client.recovery_max_publication_limit"),
        "honoured",
        _T_KEYS + "test_publication_limits",
    ),
    _row(
        "client.max_commands_per_frame",
        "honoured",
        "tests/integration/test_hostile_ws.py::test_too_many_commands_in_one_frame_is_3501",
    ),
    _row(
        (
            "client.subscribe_to_user_personal_channel.enabled",
            "client.subscribe_to_user_personal_channel.personal_channel_namespace",
        ),
        "honoured",
        _T_SESSION + "test_personal_channel_server_side_subscription_sv14",
    ),
    _row(
        "client.subscribe_to_user_personal_channel.single_connection",
        "honoured",
        "tests/unit/test_single_connection.py::test_older_connection_on_another_node_gets_3504_pr06",
    ),
    _row(
        "client.connect_code_to_unidirectional_disconnect.*",
        "honoured",
        _T_UNI + "test_connect_code_transforms",
    ),
    # -- proxies (PX-01..PX-28) --
    _row(
        ("proxies", "proxies[].name"),
        "honoured",
        _T_PROXY + "test_px28_named_proxy_serves_its_namespace",
    ),
    _row(_under(PROXIES, "grpc.*", "grpc_metadata"), "warned", _NO_GRPC),
    _row(
        _under(("channel.proxy.subscribe_stream",), "*"),
        "warned",
        "subscribe stream proxies need GRPC, which is not available",
    ),
    _row(
        ("client.proxy.connect.*", "client.proxy.refresh.enabled"),
        "honoured",
        _T_PROXY + "test_px10_connect_request_exact_and_result_mapped",
    ),
    _row(
        _under(PROXIES, "endpoint", "enabled", "timeout"),
        "honoured",
        _T_PROXY + "test_px15_p39_rpc_proxy_and_namespaces",
    ),
    _row(
        _under(PROXIES, "http_headers", "emulated_headers"),
        "honoured",
        _T_WIRE + "test_s4_emulated_headers_only_when_listed_and_transport_wins",
    ),
    _row(
        _under(PROXIES, "binary_encoding"),
        "honoured",
        _T_PROXY + "test_px06_binary_encoding_connect",
    ),
    _row(
        _under(PROXIES, "include_connection_meta"),
        "honoured",
        _T_WIRE + "test_px05_meta_only_with_include_connection_meta",
    ),
    _row(
        _under(PROXIES, "http.static_headers"),
        "honoured",
        _T_WIRE + "test_px03_content_type_forced_and_static_headers_win",
    ),
    _row(
        _under(PROXIES, "http.status_to_code_transforms"),
        "honoured",
        _T_LIVE + "test_proxy_status_to_code_transforms",
    ),
    _row(
        _under(PROXIES, "http.tls.*"),
        "honoured",
        "tests/integration/test_tls_proxy.py::test_backend_trusted_through_server_ca",
    ),
    _row(
        _under(PROXIES, "http.max_response_size"),
        "honoured",
        "tests/integration/test_proxy_limits.py::test_cap_default_zero_and_raised",
    ),
    # -- channels and namespaces (CH-02..CH-62) --
    _row(
        _under(
            NAMESPACES,
            "subscribe_stream_proxy_enabled",
            "subscribe_stream_proxy_name",
            "subscribe_stream_proxy_bidirectional",
        ),
        "warned",
        "subscribe stream proxies need GRPC, which is not available (subscribe answers 108)",
    ),
    _row(
        _under(NAMESPACES, "subscription_type"),
        "warned",
        "map and shared-poll subscriptions are not available (subscribe answers 103)",
    ),
    _row(
        _under(NAMESPACES, "force_recovery_mode"),
        "honoured",
        "tests/unit/test_cache_recovery.py::"
        "test_resubscribe_in_cache_mode_gets_only_the_latest_publication_hr08_ch30",
    ),
    _row(
        _under(NAMESPACES, "auto_cache_recover"),
        "honoured",
        "tests/unit/test_cache_recovery.py::test_auto_cache_recover_fresh_subscriber_gets_the_latest_ch31",
    ),
    _row(
        _under(NAMESPACES, "presence", "join_leave", "force_push_join_leave"),
        "honoured",
        "tests/integration/test_js_client.py::test_presence_two_clients",
    ),
    _row(
        _under(NAMESPACES, "history_size", "history_ttl", "history_meta_ttl"),
        "honoured",
        "tests/integration/test_js_client.py::test_history",
    ),
    _row(
        _under(
            NAMESPACES,
            "force_recovery",
            "allow_recovery",
            "force_positioning",
            "allow_positioning",
        ),
        "honoured",
        _T_PERM + "test_p90_opt_ins",
    ),
    _row(
        _under(NAMESPACES, "allow_*"),
        "honoured",
        _T_PERM + "test_s3_generated_matrix_matches_reference",
    ),
    _row(
        _under(NAMESPACES, "channel_regex"),
        "honoured",
        "tests/unit/test_channels.py::test_regex_without_namespace_sees_whole_channel",
    ),
    _row(
        _under(NAMESPACES, "allowed_delta_types", "delta_publish"),
        "honoured",
        _T_KEYS + "test_delta_options",
    ),
    _row(
        _under(NAMESPACES, "publication_data_format"),
        "honoured",
        _T_PERM + "test_ch43_publication_data_format",
    ),
    _row(
        _under(NAMESPACES, "subscribe_proxy_*", "publish_proxy_*", "sub_refresh_proxy_*"),
        "honoured",
        _T_PROXY + "test_px28_named_proxy_serves_its_namespace",
    ),
    _row(
        ("channel.namespaces", "channel.namespaces[].name"),
        "honoured",
        "tests/unit/test_channels.py::test_options_and_unknown_namespace_ch04_ch09",
    ),
    _row(
        ("channel.history_meta_ttl", "channel.publication_data_format"),
        "honoured",
        "tests/unit/test_channels.py::test_global_defaults_are_inherited_ch09",
    ),
    _row("channel.max_length", "honoured", "tests/unit/test_channels.py::test_too_long_ch02"),
    _row("channel.private_prefix", "honoured", "tests/unit/test_channels.py::test_private_ch06"),
    _row(
        ("channel.namespace_boundary", "channel.user_boundary", "channel.user_separator"),
        "honoured",
        _T_KEYS + "test_channel_boundaries",
    ),
    # -- rpc (CH-10, PX-26, SV-19) --
    _row(
        (
            "rpc.namespaces",
            "rpc.namespaces[].*",
            "rpc.without_namespace.*",
            "rpc.namespace_boundary",
        ),
        "honoured",
        _T_WIRE + "test_p39_rpc_namespaces_104_and_108",
    ),
    _row(("rpc.ping.enabled", "rpc.ping.method"), "honoured", _T_KEYS + "test_rpc_ping"),
    # -- server API (API-01..API-09) --
    _row(
        ("http_api.disabled", "http_api.external"),
        "honoured",
        _T_API + "test_disabled_api_is_not_routed_api_09",
    ),
    _row(
        ("http_api.key", "http_api.insecure"),
        "honoured",
        _T_API + "test_empty_configured_key_always_401_unless_insecure_api_04",
    ),
    _row("http_api.handler_prefix", "honoured", _T_KEYS + "test_handler_prefixes"),
    _row(
        "http_api.error_mode",
        "honoured",
        _T_API + "test_transport_error_mode_from_config_not_for_batch_items_api_06",
    ),
    _row(
        "http_api.max_request_body_size",
        "honoured",
        _T_HTTP + "test_declared_body_over_the_cap_is_refused_before_it_is_read",
    ),
    _row("grpc_api.enabled", "warned", "the GRPC server API is not available (use the HTTP API)"),
    _row("grpc_api.*", "warned", "used only by the GRPC server API, which is not available"),
    # -- transports (TR-01..TR-13, P-12) --
    _row(
        ("websocket.disabled", "websocket.handler_prefix"),
        "honoured",
        _T_KEYS + "test_handler_prefixes",
    ),
    _row(
        "websocket.message_size_limit",
        "honoured",
        _T_LIFE + "test_message_over_limit_closes_1009",
    ),
    _row(
        _under(
            ("websocket", "uni_websocket"),
            "compression",
            "compression_min_size",
            "compression_level",
        ),
        "honoured",
        "tests/integration/test_ws_compression.py::"
        "test_frames_past_compression_min_size_are_deflated_at_compression_level",
    ),
    _row(
        (
            "websocket.decompressed_message_size_limit",
            "uni_websocket.decompressed_message_size_limit",
        ),
        "honoured",
        "tests/integration/test_ws_compression.py::test_decompressed_message_size_limit_closes_1009",
    ),
    _row(
        _under(
            ("websocket", "uni_websocket"),
            "read_buffer_size",
            "write_buffer_size",
            "use_write_buffer_pool",
        ),
        "noop",
        "the event loop reads every socket into one shared buffer and each frame is written "
        "whole in one call, so there is no per-connection buffer to size or pool",
    ),
    _row(
        _under(("websocket", "uni_websocket"), "write_timeout"),
        "honoured",
        "tests/integration/test_hostile_ws.py::"
        "test_a_write_that_cannot_complete_closes_3009_after_write_timeout",
    ),
    _row(
        ("http_stream.*", "sse.*", "emulation.*"),
        "honoured",
        "tests/integration/test_fallback_transports.py::test_flat_v4_keys_enable_and_rename",
    ),
    _row(
        (
            "uni_websocket.enabled",
            "uni_websocket.handler_prefix",
            "uni_websocket.join_push_messages",
            "uni_websocket.disable_closing_handshake",
            "uni_websocket.disable_disconnect_push",
        ),
        "honoured",
        _T_UNI + "test_uni_websocket_joined_pushes_no_disconnect_push_no_closing_handshake",
    ),
    _row(
        "uni_websocket.message_size_limit",
        "honoured",
        _T_KEYS + "test_uni_websocket_first_message_limit",
    ),
    _row(
        _under(UNI, "enabled", "handler_prefix"),
        "honoured",
        _T_UNI + "test_uni_endpoints_disabled_by_default",
    ),
    _row(_under(UNI, "max_request_body_size"), "honoured", _T_UNI + "test_uni_status_codes"),
    _row(
        _under(UNI, "connect_code_to_http_response.*"),
        "honoured",
        _T_UNI + "test_connect_code_transforms",
    ),
    _row("uni_grpc.enabled", "warned", "the unidirectional GRPC transport is not available"),
    _row(
        "uni_grpc.*",
        "warned",
        "used only by the unidirectional GRPC transport, which is not available",
    ),
    # -- endpoints (TR-11, SV-04..SV-08) --
    _row(
        ("init.enabled", "init.handler_prefix"),
        "honoured",
        _T_UNI + "test_connection_init_endpoint",
    ),
    _row(
        (
            "health.enabled",
            "health.handler_prefix",
            "prometheus.enabled",
            "prometheus.handler_prefix",
        ),
        "honoured",
        _T_LIFE + "test_metrics_and_health_on_internal_port",
    ),
    _row("admin.*", "warned", "the admin web UI is not available"),
    _row("debug.*", "warned", "Go profiling (pprof) endpoints have no equivalent here"),
    _row("swagger.*", "warned", "the Swagger UI is not served"),
    _row("graphite.*", "warned", "export of metrics to Graphite is not available"),
    # -- Centrifugo features centripetal does not have (yet) --
    _row("http_server.http3.enabled", "warned", "HTTP/3 is not available"),
    _row("http_server.h2c_external", "warned", "HTTP/2 without TLS (h2c) is not available"),
    _row(
        ("broker.postgres.*", "map_broker.postgres.*"),
        "warned",
        "the PostgreSQL broker is not available (broker.type postgres is refused)",
    ),
    _row(
        ("map_broker.*", "shared_poll.*"),
        "warned",
        "map and shared-poll subscriptions are not available",
    ),
    _row(
        _under(
            NAMESPACES,
            "map.*",
            "shared_poll.*",
            "map_clients_presence_channel_prefix",
            "map_users_presence_channel_prefix",
        ),
        "warned",
        "map and shared-poll subscriptions are not available",
    ),
    _row(
        _under(
            (
                "channel.proxy.map_publish",
                "channel.proxy.map_remove",
                "channel.proxy.shared_poll_refresh",
            ),
            "*",
        ),
        "warned",
        "map and shared-poll subscriptions are not available",
    ),
    _row(
        "controller.enabled",
        "refused",
        "the PostgreSQL controller is not available; nodes would not receive each other's "
        "control commands",
    ),
    _row(
        "controller.*",
        "warned",
        "used only by the PostgreSQL controller, which is not available",
    ),
    _row(
        "consumers[].enabled",
        "refused",
        "async consumers are not available yet; the messages of an enabled consumer would "
        "never be delivered",
    ),
    _row(("consumers", "consumers[].*"), "warned", "async consumers are not available yet"),
    _row("webtransport.*", "warned", "the WebTransport transport is not available"),
    _row("opentelemetry.*", "warned", "OpenTelemetry tracing is not available"),
    _row(
        (
            "prometheus.instrument_http_handlers",
            "prometheus.recovered_publications_histogram",
            "prometheus.native_histograms",
        ),
        "warned",
        "this Prometheus metric option is not available",
    ),
    _row("usage_stats.disabled", "noop", "centripetal never sends usage statistics"),
    _row(
        "enable_unreleased_features",
        "warned",
        "centripetal has no unreleased features to enable",
    ),
)
