"""Flat v3/v4/v5 configuration -> the v6 nested layout, before typed decoding (§12 MG-04).

``CFG_ROWS`` is Appendix B (CFG-001..CFG-184) as data; ``EXTRA_KEYS`` adds the v4/v5 flat
names of §4.3 and §6 (PX-20..PX-28, AU-09, AU-22). Target notation:

* ``a.b.c`` - the v6 key path;
* ``@opt`` - a channel option: top level -> ``channel.without_namespace``; ``@-`` is consumed
  by the v3 permission conversion (CH-51);
* ``*field`` - a global proxy option copied into every proxy object (PX-27);
* ``-`` - removed: a warning, the value is ignored.

A file is *flat* when it holds any key that only the flat layout uses (``port``, ``engine``
as a string, top-level ``namespaces``, ``token_hmac_secret_key``, ``proxy_*`` ...). Namespaces
(and top-level channel options) get the v3 permission semantics of CH-51 when they use a
v3-only option, or when the file does and the namespace uses no v4 ``allow_*``/``force_*``
option; otherwise their v4/v5 names are kept.

Durations given as bare numbers in a flat file are seconds, the v2 meaning (``history_lifetime``
CH-24, ``client_expired_close_delay`` ...): they are rewritten as Go duration strings (``60`` ->
``"1m0s"``) so that the v6 rule for numbers (nanoseconds, ``config.weak``) never sees them.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from msgspec import inspect as mi

from centripetal.config.durations import format_duration
from centripetal.config.tree import CONFIG_TYPE, ConfigError, fields_of, unwrap

__all__ = ["CFG_ROWS", "EXTRA_KEYS", "SIMPLE_KEYS", "convert", "flat_keys", "is_flat"]

_APPENDIX_B = """
CFG-001 address http_server.address
CFG-002 admin admin.enabled
CFG-003 admin_external admin.external
CFG-004 admin_handler_prefix admin.handler_prefix
CFG-005 admin_insecure admin.insecure
CFG-006 admin_password admin.password
CFG-007 admin_secret admin.secret
CFG-008 admin_web_path admin.web_path
CFG-009 allowed_origins client.allowed_origins
CFG-010 anonymous @allow_subscribe_for_anonymous
CFG-011 api_disable http_api.disabled
CFG-012 api_handler_prefix http_api.handler_prefix
CFG-013 api_insecure http_api.insecure
CFG-014 api_key http_api.key
CFG-015 broker broker.type
CFG-016 channel_max_length channel.max_length
CFG-017 channel_namespace_boundary channel.namespace_boundary
CFG-018 channel_private_prefix channel.private_prefix
CFG-019 channel_user_boundary channel.user_boundary
CFG-020 channel_user_separator channel.user_separator
CFG-021 client_anonymous client.allow_anonymous_connect_without_token
CFG-022 client_channel_limit client.channel_limit
CFG-023 client_channel_position_check_delay client.channel_position_check_delay
CFG-024 client_concurrency client.concurrency
CFG-025 client_expired_close_delay client.expired_close_delay
CFG-026 client_expired_sub_close_delay client.expired_sub_close_delay
CFG-027 client_history_max_publication_limit client.history_max_publication_limit
CFG-028 client_insecure client.insecure
CFG-029 client_presence_update_interval client.presence_update_interval
CFG-030 client_queue_max_size client.queue_max_size
CFG-031 client_recovery_max_publication_limit client.recovery_max_publication_limit
CFG-032 client_stale_close_delay client.stale_close_delay
CFG-033 client_user_connection_limit client.user_connection_limit
CFG-034 connect_proxy_name client.proxy.connect
CFG-035 debug debug.enabled
CFG-036 engine engine.type
CFG-037 gomaxprocs -
CFG-038 granular_proxy_mode -
CFG-039 graphite graphite.enabled
CFG-040 graphite_host graphite.host
CFG-041 graphite_interval graphite.interval
CFG-042 graphite_port graphite.port
CFG-043 graphite_prefix graphite.prefix
CFG-044 graphite_tags graphite.tags
CFG-045 grpc_api grpc_api.enabled
CFG-046 grpc_api_address grpc_api.address
CFG-047 grpc_api_key grpc_api.key
CFG-048 grpc_api_port grpc_api.port
CFG-049 grpc_api_tls grpc_api.tls.enabled
CFG-050 grpc_api_tls_cert grpc_api.tls.cert_pem
CFG-051 grpc_api_tls_disable -
CFG-052 grpc_api_tls_key grpc_api.tls.key_pem
CFG-053 health health.enabled
CFG-054 health_handler_prefix health.handler_prefix
CFG-055 history_disable_for_client @-
CFG-056 history_size @history_size
CFG-057 internal_address http_server.internal_address
CFG-058 internal_port http_server.internal_port
CFG-059 join_leave @join_leave
CFG-060 log_file log.file
CFG-061 log_level log.level
CFG-062 name node.name
CFG-063 namespaces channel.namespaces
CFG-064 nats_dial_timeout broker.nats.dial_timeout
CFG-065 nats_prefix broker.nats.prefix
CFG-066 nats_url broker.nats.url
CFG-067 nats_write_timeout broker.nats.write_timeout
CFG-068 node_info_metrics_aggregate_interval node.info_metrics_aggregate_interval
CFG-069 pid_file pid_file
CFG-070 port http_server.port
CFG-071 position @force_positioning
CFG-072 presence @presence
CFG-073 presence_disable_for_client @-
CFG-074 prometheus prometheus.enabled
CFG-075 prometheus_handler_prefix prometheus.handler_prefix
CFG-076 protected @-
CFG-077 proxies proxies
CFG-078 proxy_binary_encoding *binary_encoding
CFG-079 proxy_connect_endpoint client.proxy.connect.endpoint
CFG-080 proxy_connect_timeout client.proxy.connect.timeout
CFG-081 proxy_grpc_cert_file *grpc.tls.server_ca_pem
CFG-082 proxy_grpc_credentials_key *grpc.credentials_key
CFG-083 proxy_grpc_credentials_value *grpc.credentials_value
CFG-084 proxy_grpc_metadata *grpc_metadata
CFG-085 proxy_http_headers *http_headers
CFG-086 proxy_include_connection_meta *include_connection_meta
CFG-087 proxy_publish @publish_proxy_enabled
CFG-088 proxy_publish_endpoint channel.proxy.publish.endpoint
CFG-089 proxy_publish_timeout channel.proxy.publish.timeout
CFG-090 proxy_refresh_endpoint client.proxy.refresh.endpoint
CFG-091 proxy_refresh_timeout client.proxy.refresh.timeout
CFG-092 proxy_rpc_endpoint rpc.proxy.endpoint
CFG-093 proxy_rpc_timeout rpc.proxy.timeout
CFG-094 proxy_subscribe @subscribe_proxy_enabled
CFG-095 proxy_subscribe_endpoint channel.proxy.subscribe.endpoint
CFG-096 proxy_subscribe_timeout channel.proxy.subscribe.timeout
CFG-097 publish @allow_publish_for_client
CFG-098 recover @force_recovery
CFG-099 redis_address engine.redis.address
CFG-100 redis_cluster_address engine.redis.cluster_address
CFG-101 redis_connect_timeout engine.redis.connect_timeout
CFG-102 redis_db engine.redis.db
CFG-103 redis_idle_timeout -
CFG-104 redis_password engine.redis.password
CFG-105 redis_prefix engine.redis.prefix
CFG-106 redis_read_timeout engine.redis.io_timeout
CFG-107 redis_sentinel_address engine.redis.sentinel_address
CFG-108 redis_sentinel_master_name engine.redis.sentinel_master_name
CFG-109 redis_sentinel_password engine.redis.sentinel_password
CFG-110 redis_tls engine.redis.tls.enabled
CFG-111 redis_tls_skip_verify engine.redis.tls.insecure_skip_verify
CFG-112 redis_use_lists engine.redis.history_use_lists
CFG-113 redis_write_timeout engine.redis.io_timeout
CFG-114 refresh_proxy_name client.proxy.refresh
CFG-115 rpc_namespace_boundary rpc.namespace_boundary
CFG-116 rpc_namespaces rpc.namespaces
CFG-117 rpc_proxy_name rpc.without_namespace.proxy_name
CFG-118 shutdown_termination_delay -
CFG-119 shutdown_timeout shutdown.timeout
CFG-120 sockjs -
CFG-121 sockjs_handler_prefix -
CFG-122 sockjs_heartbeat_delay -
CFG-123 sockjs_url -
CFG-124 subscribe_to_publish @allow_publish_for_subscriber
CFG-125 tarantool_address -
CFG-126 tarantool_mode -
CFG-127 tarantool_password -
CFG-128 tarantool_user -
CFG-129 tls http_server.tls.enabled
CFG-130 tls_autocert http_server.tls_autocert.enabled
CFG-131 tls_autocert_cache_dir http_server.tls_autocert.cache_dir
CFG-132 tls_autocert_email http_server.tls_autocert.email
CFG-133 tls_autocert_host_whitelist http_server.tls_autocert.host_whitelist
CFG-134 tls_autocert_http http_server.tls_autocert.http
CFG-135 tls_autocert_http_addr http_server.tls_autocert.http_addr
CFG-136 tls_autocert_server_name http_server.tls_autocert.server_name
CFG-137 tls_cert http_server.tls.cert_pem
CFG-138 tls_external http_server.tls_external
CFG-139 tls_key http_server.tls.key_pem
CFG-140 token_ecdsa_public_key client.token.ecdsa_public_key
CFG-141 token_hmac_secret_key client.token.hmac_secret_key
CFG-142 token_jwks_public_endpoint client.token.jwks_public_endpoint
CFG-143 token_rsa_public_key client.token.rsa_public_key
CFG-144 uni_grpc uni_grpc.enabled
CFG-145 uni_grpc_address uni_grpc.address
CFG-146 uni_grpc_max_receive_message_size uni_grpc.max_receive_message_size
CFG-147 uni_grpc_port uni_grpc.port
CFG-148 uni_grpc_tls uni_grpc.tls.enabled
CFG-149 uni_grpc_tls_cert uni_grpc.tls.cert_pem
CFG-150 uni_grpc_tls_disable -
CFG-151 uni_grpc_tls_key uni_grpc.tls.key_pem
CFG-152 uni_http_stream uni_http_stream.enabled
CFG-153 uni_http_stream_handler_prefix uni_http_stream.handler_prefix
CFG-154 uni_http_stream_max_request_body_size uni_http_stream.max_request_body_size
CFG-155 uni_sse uni_sse.enabled
CFG-156 uni_sse_handler_prefix uni_sse.handler_prefix
CFG-157 uni_sse_max_request_body_size uni_sse.max_request_body_size
CFG-158 uni_websocket uni_websocket.enabled
CFG-159 uni_websocket_compression uni_websocket.compression
CFG-160 uni_websocket_compression_level uni_websocket.compression_level
CFG-161 uni_websocket_compression_min_size uni_websocket.compression_min_size
CFG-162 uni_websocket_handler_prefix uni_websocket.handler_prefix
CFG-163 uni_websocket_message_size_limit uni_websocket.message_size_limit
CFG-164 uni_websocket_ping_interval -
CFG-165 uni_websocket_read_buffer_size uni_websocket.read_buffer_size
CFG-166 uni_websocket_use_write_buffer_pool uni_websocket.use_write_buffer_pool
CFG-167 uni_websocket_write_buffer_size uni_websocket.write_buffer_size
CFG-168 uni_websocket_write_timeout uni_websocket.write_timeout
CFG-169 use_unlimited_history_by_default -
CFG-170 user_personal_channel_namespace \
client.subscribe_to_user_personal_channel.personal_channel_namespace
CFG-171 user_personal_single_connection client.subscribe_to_user_personal_channel.single_connection
CFG-172 user_subscribe_to_personal client.subscribe_to_user_personal_channel.enabled
CFG-173 v3_use_offset -
CFG-174 websocket_compression websocket.compression
CFG-175 websocket_compression_level websocket.compression_level
CFG-176 websocket_compression_min_size websocket.compression_min_size
CFG-177 websocket_disable websocket.disabled
CFG-178 websocket_handler_prefix websocket.handler_prefix
CFG-179 websocket_message_size_limit websocket.message_size_limit
CFG-180 websocket_ping_interval -
CFG-181 websocket_read_buffer_size websocket.read_buffer_size
CFG-182 websocket_use_write_buffer_pool websocket.use_write_buffer_pool
CFG-183 websocket_write_buffer_size websocket.write_buffer_size
CFG-184 websocket_write_timeout websocket.write_timeout
"""

# v4/v5 flat names (§4.3, §6, [conv6]) beyond Appendix B.
_EXTRA = """
allow_anonymous_connect_without_token client.allow_anonymous_connect_without_token
disallow_anonymous_connection_tokens client.disallow_anonymous_connection_tokens
client_insecure_skip_token_signature_verify client.insecure_skip_token_signature_verify
client_user_id_http_header client.user_id_http_header
client_channel_position_max_time_lag client.channel_position_max_time_lag
client_connection_limit client.connection_limit
client_connection_rate_limit client.connection_rate_limit
client_connect_include_server_time client.connect_include_server_time
token_audience client.token.audience
token_audience_regex client.token.audience_regex
token_issuer client.token.issuer
token_issuer_regex client.token.issuer_regex
token_user_id_claim client.token.user_id_claim
separate_subscription_token_config client.subscription_token.enabled
subscription_token_hmac_secret_key client.subscription_token.hmac_secret_key
subscription_token_rsa_public_key client.subscription_token.rsa_public_key
subscription_token_ecdsa_public_key client.subscription_token.ecdsa_public_key
subscription_token_jwks_public_endpoint client.subscription_token.jwks_public_endpoint
subscription_token_audience client.subscription_token.audience
subscription_token_audience_regex client.subscription_token.audience_regex
subscription_token_issuer client.subscription_token.issuer
subscription_token_issuer_regex client.subscription_token.issuer_regex
subscription_token_user_id_claim client.subscription_token.user_id_claim
history_meta_ttl channel.history_meta_ttl
global_history_meta_ttl channel.history_meta_ttl
presence_ttl engine.redis.presence_ttl
global_presence_ttl engine.redis.presence_ttl
global_redis_presence_user_mapping engine.redis.presence_user_mapping
redis_presence_hash_field_ttl engine.redis.presence_hash_field_ttl
redis_io_timeout engine.redis.io_timeout
redis_user engine.redis.user
redis_client_name engine.redis.client_name
redis_force_resp2 engine.redis.force_resp2
redis_sentinel_user engine.redis.sentinel_user
redis_sentinel_client_name engine.redis.sentinel_client_name
redis_tls_cert engine.redis.tls.cert_pem
redis_tls_key engine.redis.tls.key_pem
redis_tls_root_ca engine.redis.tls.server_ca_pem
redis_tls_server_name engine.redis.tls.server_name
redis_tls_insecure_skip_verify engine.redis.tls.insecure_skip_verify
redis_sentinel_tls engine.redis.sentinel_tls.enabled
rpc_ping rpc.ping.enabled
rpc_ping_method rpc.ping.method
swagger swagger.enabled
admin_web_proxy_address admin.web_proxy_address
api_external http_api.external
api_error_mode http_api.error_mode
tls_cert_pem http_server.tls.cert_pem
tls_key_pem http_server.tls.key_pem
tls_root_ca http_server.tls.server_ca_pem
tls_client_ca http_server.tls.client_ca_pem
grpc_api_error_mode grpc_api.error_mode
grpc_api_reflection grpc_api.reflection
http_stream http_stream.enabled
sse sse.enabled
http_stream_max_request_body_size http_stream.max_request_body_size
sse_max_request_body_size sse.max_request_body_size
http_stream_handler_prefix http_stream.handler_prefix
sse_handler_prefix sse.handler_prefix
emulation_handler_prefix emulation.handler_prefix
emulation_max_request_body_size emulation.max_request_body_size
proxy_sub_refresh_endpoint channel.proxy.sub_refresh.endpoint
proxy_sub_refresh_timeout channel.proxy.sub_refresh.timeout
proxy_subscribe_stream_endpoint channel.proxy.subscribe_stream.endpoint
proxy_subscribe_stream_timeout channel.proxy.subscribe_stream.timeout
proxy_static_http_headers *http.static_headers
proxy_http_status_code_transforms *http.status_to_code_transforms
proxy_grpc_tls *grpc.tls
proxy_grpc_compression *grpc.compression
proxy_sub_refresh @sub_refresh_proxy_enabled
proxy_subscribe_stream @subscribe_stream_proxy_enabled
history_lifetime @history_ttl
history_recover @force_recovery
"""


def _rows(text: str) -> tuple[tuple[str, str, str], ...]:
    return tuple(tuple(line.split()) for line in text.strip().splitlines())  # type: ignore[misc]


CFG_ROWS: tuple[tuple[str, str, str], ...] = _rows(_APPENDIX_B)
EXTRA_KEYS: dict[str, str] = dict(line.split() for line in _EXTRA.strip().splitlines())

_TARGETS: dict[str, str] = {key: target for _, key, target in CFG_ROWS} | EXTRA_KEYS
_SPECIAL = {"broker", "connect_proxy_name", "refresh_proxy_name", "rpc_proxy_name"}
_LIST_PATHS = {
    "client.allowed_origins",
    "engine.redis.address",
    "engine.redis.cluster_address",
    "engine.redis.sentinel_address",
    "http_server.tls_autocert.host_whitelist",
}
# Plain renames: also used for flat spellings of environment variables.
SIMPLE_KEYS: dict[str, str] = {
    k: t for k, t in _TARGETS.items() if t[0] not in "@*-" and k not in _SPECIAL
}

_V6_SECTIONS = {
    "http_server", "log", "engine", "broker", "presence_manager", "client", "channel", "rpc",
    "proxies", "http_api", "websocket", "http_stream", "sse", "emulation", "uni_websocket",
    "uni_sse", "uni_http_stream", "init", "health", "prometheus", "admin", "debug", "swagger",
    "node", "shutdown", "pid_file", "grpc_api", "uni_grpc", "graphite",
}  # fmt: skip
_V3_OPTIONS = {
    "protected", "anonymous", "publish", "subscribe_to_publish", "presence_disable_for_client",
    "history_disable_for_client", "position", "recover", "history_lifetime", "history_recover",
}  # fmt: skip
_OPTION_RENAMES = {
    "position": "force_positioning",
    "recover": "force_recovery",
    "history_recover": "force_recovery",
    "history_lifetime": "history_ttl",
    "proxy_subscribe": "subscribe_proxy_enabled",
    "proxy_publish": "publish_proxy_enabled",
    "proxy_sub_refresh": "sub_refresh_proxy_enabled",
    "proxy_subscribe_stream": "subscribe_stream_proxy_enabled",
}
_V6_OPTIONS = {
    "presence", "join_leave", "force_push_join_leave", "history_size", "history_ttl",
    "force_positioning", "allow_positioning", "force_recovery", "allow_recovery",
    "force_recovery_mode", "auto_cache_recover", "allow_subscribe_for_client",
    "allow_subscribe_for_anonymous", "allow_publish_for_subscriber", "allow_publish_for_client",
    "allow_publish_for_anonymous", "allow_presence_for_subscriber", "allow_presence_for_client",
    "allow_presence_for_anonymous", "allow_history_for_subscriber", "allow_history_for_client",
    "allow_history_for_anonymous", "allow_user_limited_channels", "channel_regex",
    "allowed_delta_types", "delta_publish", "publication_data_format", "allow_tags_filter",
    "subscribe_proxy_enabled", "subscribe_proxy_name", "publish_proxy_enabled",
    "publish_proxy_name", "sub_refresh_proxy_enabled", "sub_refresh_proxy_name",
    "subscribe_stream_proxy_enabled", "subscribe_stream_proxy_name",
    "subscribe_stream_proxy_bidirectional", "subscription_type",
}  # fmt: skip
_TOP_OPTIONS = _V6_OPTIONS | _V3_OPTIONS | set(_OPTION_RENAMES)
_INLINE_PROXIES = (
    "client.proxy.connect",
    "client.proxy.refresh",
    "channel.proxy.subscribe",
    "channel.proxy.publish",
    "channel.proxy.sub_refresh",
    "channel.proxy.subscribe_stream",
    "rpc.proxy",
)
_REMOVED_NOTES = {
    "gomaxprocs": "use the GOMAXPROCS environment variable",
    "granular_proxy_mode": "named proxies are always available",
    "protected": "leave allow_subscribe_for_client unset instead",
}


def _is_v4_option(key: str) -> bool:
    return key.startswith(("allow_", "force_")) and key in _V6_OPTIONS


def is_flat(raw: dict[str, Any]) -> bool:
    """True when the file uses the flat v3/v4/v5 layout (MG-04)."""
    for key, value in raw.items():
        if key in _V6_SECTIONS:
            if key in ("pid_file", "proxies"):
                continue
            if not isinstance(value, dict):
                return True
        elif key in _TARGETS or key in _TOP_OPTIONS:
            return True
    return False


def _set(tree: dict[str, Any], path: str, value: object) -> None:
    node = tree
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _setdefault(tree: dict[str, Any], path: str, value: object) -> None:
    node = tree
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node.setdefault(parts[-1], value)


def _as_list(value: object) -> object:
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    return value


def convert_options(options: dict[str, Any], v3: bool) -> dict[str, Any]:
    """Rename one namespace's (or the top level's) channel options to v6 names (CH-51)."""
    out = {k: v for k, v in options.items() if k not in _V3_OPTIONS and k not in _OPTION_RENAMES}
    for old, new in _OPTION_RENAMES.items():
        if old in options and new not in out:
            out[new] = options[old]
    for kind in ("subscribe", "publish", "sub_refresh", "subscribe_stream"):
        if out.get(f"{kind}_proxy_name") and f"{kind}_proxy_enabled" not in out:
            out[f"{kind}_proxy_enabled"] = True
    if not v3:
        return out
    anonymous = bool(options.get("anonymous"))
    out.setdefault("allow_user_limited_channels", True)
    if not options.get("protected"):
        out.setdefault("allow_subscribe_for_client", True)
        if anonymous:
            out.setdefault("allow_subscribe_for_anonymous", True)
    if options.get("publish"):
        if options.get("subscribe_to_publish"):
            out.setdefault("allow_publish_for_subscriber", True)
        else:
            out.setdefault("allow_publish_for_client", True)
        if anonymous:
            out.setdefault("allow_publish_for_anonymous", True)
    if out.get("presence") and not options.get("presence_disable_for_client"):
        out.setdefault("allow_presence_for_subscriber", True)
        if anonymous:
            out.setdefault("allow_presence_for_anonymous", True)
    history_on = bool(out.get("history_size")) and bool(out.get("history_ttl"))
    if history_on and not options.get("history_disable_for_client"):
        out.setdefault("allow_history_for_subscriber", True)
        if anonymous:
            out.setdefault("allow_history_for_anonymous", True)
    if out.get("join_leave"):
        out.setdefault("force_push_join_leave", True)
    return out


def _uses_v3(raw: dict[str, Any]) -> bool:
    scopes = [raw] + [ns for ns in raw.get("namespaces") or [] if isinstance(ns, dict)]
    keys = {key for scope in scopes for key in scope}
    return bool(keys & _V3_OPTIONS) and not any(_is_v4_option(k) for k in keys)


def _scope_is_v3(options: dict[str, Any], file_v3: bool) -> bool:
    if set(options) & _V3_OPTIONS:
        return True
    return file_v3 and not any(_is_v4_option(k) for k in options)


def _named_proxy(raw: dict[str, Any], key: str) -> dict[str, Any]:
    name = raw[key]
    for proxy in raw.get("proxies") or []:
        if isinstance(proxy, dict) and proxy.get("name") == name:
            found = {k: v for k, v in proxy.items() if k != "name"}
            return _convert_proxy(found)
    raise ConfigError(f"{key}: unknown proxy {name!r} (not in proxies)")


def _convert_proxy(proxy: dict[str, Any]) -> dict[str, Any]:
    """v3 granular proxy item keys -> v6 proxy object keys (PX-28)."""
    out = dict(proxy)
    if "grpc_cert_file" in out:
        out.setdefault("grpc", {})["tls"] = {
            "enabled": True,
            "server_ca_pem": out.pop("grpc_cert_file"),
        }
    for old in ("grpc_credentials_key", "grpc_credentials_value"):
        if old in out:
            out.setdefault("grpc", {})[old.removeprefix("grpc_")] = out.pop(old)
    return out


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> None:
    """Merge ``over`` into ``base`` in place; nested objects merge, other values replace."""
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def _is_v6_section(key: str, value: object) -> bool:
    return key in _V6_SECTIONS and (isinstance(value, dict) or key in ("pid_file", "proxies"))


def flat_keys(raw: dict[str, Any]) -> list[str]:
    """The top-level keys of ``raw`` read in the v3/v4/v5 flat layout (``convert`` maps them
    onto v6 keys; Centrifugo v6 itself ignores them as unknown)."""
    if not is_flat(raw):
        return []
    return [key for key, value in raw.items() if not _is_v6_section(key, value)]


def convert(raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Map a flat v3/v4/v5 tree onto the v6 layout; v6 trees are returned unchanged.

    Returns (tree, warnings); warnings name removed keys. Unknown keys are kept so that the
    loader reports them.
    """
    if not is_flat(raw):
        return raw, []
    warnings: list[str] = []
    file_v3 = _uses_v3(raw)
    out: dict[str, Any] = {}
    top_options: dict[str, Any] = {}
    common: dict[str, object] = {}
    for key, value in raw.items():
        if _is_v6_section(key, value):
            if key == "proxies" and isinstance(value, list):
                out[key] = [_convert_proxy(p) if isinstance(p, dict) else p for p in value]
            elif isinstance(value, dict) and isinstance(out.get(key), dict):
                _deep_merge(out[key], copy.deepcopy(value))  # flat keys seen earlier stay
            else:
                out[key] = copy.deepcopy(value)
            continue
        target = _TARGETS.get(key)
        if key in _TOP_OPTIONS and (target is None or target.startswith("@")):
            top_options[key] = value
        elif key in _SPECIAL or key in ("namespaces", "rpc_namespaces"):
            continue
        elif target is None:
            out[key] = value
        elif target == "-":
            note = _REMOVED_NOTES.get(key, "not supported in the v6 layout")
            warnings.append(f"config key {key!r} was removed ({note}); ignored")
        elif target.startswith("*"):
            common[target[1:]] = value
        else:
            _set(out, target, _as_list(value) if target in _LIST_PATHS else value)
            if key in ("proxy_connect_endpoint", "proxy_refresh_endpoint") and value:
                _setdefault(out, target.rsplit(".", 1)[0] + ".enabled", True)
            if key == "proxy_rpc_endpoint" and value:
                _setdefault(out, "rpc.without_namespace.proxy_enabled", True)
    if raw.get("broker"):
        _set(out, "broker.enabled", True)
        _set(out, "broker.type", raw["broker"])
    for key, path in (
        ("connect_proxy_name", "client.proxy.connect"),
        ("refresh_proxy_name", "client.proxy.refresh"),
    ):
        if raw.get(key):
            _set(out, path, {**_named_proxy(raw, key), "enabled": True})
    if raw.get("rpc_proxy_name"):
        _set(out, "rpc.without_namespace.proxy_enabled", True)
        _set(out, "rpc.without_namespace.proxy_name", raw["rpc_proxy_name"])
    for path in _INLINE_PROXIES:
        for field, value in common.items():
            if field == "grpc.tls.server_ca_pem":
                _setdefault(out, f"{path}.grpc.tls", {"enabled": True, "server_ca_pem": value})
            else:
                _setdefault(out, f"{path}.{field}", copy.deepcopy(value))
    if top_options or file_v3:
        options = convert_options(top_options, _scope_is_v3(top_options, file_v3))
        for key, value in options.items():
            _setdefault(out, f"channel.without_namespace.{key}", value)
    if isinstance(raw.get("namespaces"), list):
        _set(out, "channel.namespaces", _convert_namespaces(raw["namespaces"], file_v3))
    if isinstance(raw.get("rpc_namespaces"), list):
        _set(out, "rpc.namespaces", [_convert_rpc_ns(ns) for ns in raw["rpc_namespaces"]])
    return _numbers_as_seconds(out, CONFIG_TYPE), warnings


def _numbers_as_seconds(value: Any, t: mi.Type) -> Any:
    """Bare numbers at duration keys of a flat file -> Go duration strings (seconds, CH-24)."""
    t = unwrap(t)
    if isinstance(t, mi.FloatType) and isinstance(value, int | float):
        if isinstance(value, bool) or not math.isfinite(value):
            return value
        return format_duration(float(value))
    if isinstance(t, mi.StructType) and isinstance(value, dict):
        fields = fields_of(t)
        return {
            k: _numbers_as_seconds(v, fields[k]) if k in fields else v for k, v in value.items()
        }
    if isinstance(t, mi.ListType) and isinstance(value, list):
        return [_numbers_as_seconds(v, t.item_type) for v in value]
    return value


def _convert_namespaces(namespaces: list[Any], file_v3: bool) -> list[Any]:
    return [
        convert_options(ns, _scope_is_v3(ns, file_v3)) if isinstance(ns, dict) else ns
        for ns in namespaces
    ]


def _convert_rpc_ns(ns: object) -> object:
    """v3 ``rpc_namespaces[]`` entry -> v6 (CH-10, CFG-117)."""
    if not isinstance(ns, dict):
        return ns
    out = {k: v for k, v in ns.items() if k not in ("rpc_proxy_name", "proxy_rpc")}
    if ns.get("rpc_proxy_name"):
        out.setdefault("proxy_enabled", True)
        out.setdefault("proxy_name", ns["rpc_proxy_name"])
    if "proxy_rpc" in ns:
        out.setdefault("proxy_enabled", ns["proxy_rpc"])
    return out
