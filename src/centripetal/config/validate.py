"""Startup validation of a decoded configuration (CH-08, CH-60..CH-62, P-53, SV-03, SV-14).

Every error names the offending key path and value, for example
``channel.namespaces[0].name: invalid namespace name 'a b' (must match ^[-a-zA-Z0-9_.]{2,}$)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from centripetal.config import schema
from centripetal.config.durations import format_duration
from centripetal.config.tree import ConfigError

__all__ = ["NAME_PATTERN", "ConfigError", "validate"]

NAME_PATTERN = r"^[-a-zA-Z0-9_.]{2,}$"
_NAME_RE = re.compile(NAME_PATTERN)
ENGINE_TYPES = ("memory", "redis")
BROKER_TYPES = ("memory", "redis", "nats")
# broker types Centrifugo v6 knows that centripetal does not have: refused with the reason
UNAVAILABLE_BROKER_TYPES = {
    "redisnats": "the redisnats broker (Redis history with NATS PUB/SUB) is not available",
    "postgres": "the PostgreSQL broker is not available",
}
PRESENCE_MANAGER_TYPES = ("memory", "redis")
LOG_LEVELS = ("none", "trace", "debug", "info", "warn", "error")
DELTA_TYPES = ("fossil",)
RECOVERY_MODES = ("stream", "cache")
DATA_FORMATS = ("", "json", "json_object", "binary")
SUBSCRIPTION_TYPES = ("stream", "map", "map_clients", "map_users", "shared_poll")
ERROR_MODES = ("", "transport")


def _check_names(items: Iterable[object], path: str, what: str) -> set[str]:
    """CH-08: names match the pattern and are unique."""
    seen: set[str] = set()
    for i, item in enumerate(items):
        name = str(getattr(item, "name", ""))
        if not _NAME_RE.match(name):
            raise ConfigError(
                f"{path}[{i}].name: invalid {what} name {name!r} (must match {NAME_PATTERN})"
            )
        if name in seen:
            raise ConfigError(f"{path}[{i}].name: duplicate {what} name {name!r}")
        seen.add(name)
    return seen


def _one_of(value: str, allowed: tuple[str, ...], path: str, what: str) -> None:
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ConfigError(f"{path}: unknown {what} {value!r} (allowed: {choices})")


def _check_regex(pattern: str, path: str) -> None:
    if not pattern:
        return
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"{path}: invalid regular expression {pattern!r} ({exc})") from None


def _check_proxy_name(name: str, proxies: set[str], path: str) -> None:
    if name and name != "default" and name not in proxies:
        raise ConfigError(f"{path}: unknown proxy {name!r} (not defined in proxies)")


def _check_options(
    opts: schema.ChannelOptions, path: str, meta_ttl: float, proxies: set[str]
) -> None:
    """CH-60, CH-61 for one namespace (or channels without namespace)."""
    if opts.history_size < 0:
        raise ConfigError(f"{path}.history_size: must be >= 0, got {opts.history_size}")
    if opts.history_ttl < 0:
        raise ConfigError(f"{path}.history_ttl: must be >= 0, got {opts.history_ttl}")
    if (opts.history_size > 0) != (opts.history_ttl > 0):
        raise ConfigError(
            f"{path}.history_ttl: history_size ({opts.history_size}) and history_ttl "
            f"({format_duration(opts.history_ttl)}) must be set together"
        )
    if opts.force_recovery and not opts.history_enabled:
        raise ConfigError(
            f"{path}.force_recovery: recovery requires history (set history_size and history_ttl)"
        )
    effective_meta = opts.history_meta_ttl or meta_ttl
    if effective_meta > 0 and opts.history_ttl > effective_meta:
        raise ConfigError(
            f"{path}.history_ttl: {format_duration(opts.history_ttl)} exceeds history_meta_ttl "
            f"{format_duration(effective_meta)}"
        )
    for i, delta in enumerate(opts.allowed_delta_types):
        _one_of(delta, DELTA_TYPES, f"{path}.allowed_delta_types[{i}]", "delta type")
    _one_of(opts.force_recovery_mode, RECOVERY_MODES, f"{path}.force_recovery_mode", "mode")
    if opts.auto_cache_recover and not (
        opts.force_recovery and opts.force_recovery_mode == "cache"
    ):
        raise ConfigError(
            f"{path}.auto_cache_recover: requires force_recovery with force_recovery_mode 'cache'"
        )
    _one_of(
        opts.publication_data_format,
        DATA_FORMATS,
        f"{path}.publication_data_format",
        "publication data format",
    )
    _one_of(opts.subscription_type, SUBSCRIPTION_TYPES, f"{path}.subscription_type", "type")
    _check_regex(opts.channel_regex, f"{path}.channel_regex")
    for kind in ("subscribe", "publish", "sub_refresh", "subscribe_stream"):
        name = getattr(opts, f"{kind}_proxy_name")
        _check_proxy_name(name, proxies, f"{path}.{kind}_proxy_name")
    if opts.subscribe_stream_proxy_enabled:
        for kind in ("subscribe", "publish", "sub_refresh"):
            if getattr(opts, f"{kind}_proxy_enabled"):
                raise ConfigError(
                    f"{path}.subscribe_stream_proxy_enabled: can not be used together with "
                    f"{kind}_proxy_enabled"
                )


def _check_token(token: schema.TokenConfig, path: str) -> None:
    """AU-06: audience/issuer and their regex variants are mutually exclusive; dynamic JWKS
    URL templates are refused rather than fetched literally."""
    if "{{" in token.jwks_public_endpoint:
        raise ConfigError(
            f"{path}.jwks_public_endpoint: URL templates ({{{{...}}}}) are not supported; "
            "give the full JWKS URL"
        )
    for field in ("audience", "issuer"):
        if getattr(token, field) and getattr(token, f"{field}_regex"):
            raise ConfigError(f"{path}.{field}_regex: can not be used together with {path}.{field}")
        _check_regex(getattr(token, f"{field}_regex"), f"{path}.{field}_regex")


def _proxy_objects(config: schema.Config) -> list[tuple[str, schema.ProxyEndpoint]]:
    found: list[tuple[str, schema.ProxyEndpoint]] = [
        ("client.proxy.connect", config.client.proxy.connect),
        ("client.proxy.refresh", config.client.proxy.refresh),
        ("rpc.proxy", config.rpc.proxy),
    ]
    for kind in ("subscribe", "publish", "sub_refresh", "subscribe_stream"):
        found.append((f"channel.proxy.{kind}", getattr(config.channel.proxy, kind)))
    found += [(f"proxies[{i}]", p) for i, p in enumerate(config.proxies)]
    return found


def _check_proxy_objects(config: schema.Config) -> None:
    """PX-03: ``http.max_response_size`` is a byte count (0 = no cap)."""
    for path, ep in _proxy_objects(config):
        size = ep.http.max_response_size
        if size < 0:
            raise ConfigError(
                f"{path}.http.max_response_size: must be >= 0 bytes (0 = no cap), got {size}"
            )


def _check_port(value: int, path: str) -> None:
    if not 0 <= value <= 65535:
        raise ConfigError(f"{path}: invalid port {value} (must be 0..65535)")


def _check_budget(config: schema.Config) -> None:
    """The request budget keys (limits.py, docs/security.md) are sizes and times >= 0."""
    hs = config.http_server
    for value, path in (
        (hs.max_header_bytes, "http_server.max_header_bytes"),
        (hs.max_header_count, "http_server.max_header_count"),
        (hs.read_header_timeout, "http_server.read_header_timeout"),
        (hs.read_timeout, "http_server.read_timeout"),
        (hs.idle_timeout, "http_server.idle_timeout"),
        (config.http_api.max_request_body_size, "http_api.max_request_body_size"),
        (config.client.max_commands_per_frame, "client.max_commands_per_frame"),
    ):
        if value < 0:
            raise ConfigError(f"{path}: must be >= 0, got {value}")


def validate(config: schema.Config) -> None:
    """Raise ``ConfigError`` naming the key path of the first invalid value."""
    for value, path in (
        (config.http_server.port, "http_server.port"),
        (config.http_server.internal_port, "http_server.internal_port"),
        (config.grpc_api.port, "grpc_api.port"),
        (config.uni_grpc.port, "uni_grpc.port"),
        (config.graphite.port, "graphite.port"),
    ):
        _check_port(value, path)
    _check_budget(config)
    _one_of(config.log.level, LOG_LEVELS, "log.level", "log level")
    _one_of(config.engine.type, ENGINE_TYPES, "engine.type", "engine type")
    if config.broker.enabled:
        reason = UNAVAILABLE_BROKER_TYPES.get(config.broker.type)
        if reason is not None:
            raise ConfigError(f"broker.type: refused: {reason}; use 'redis' or 'nats'")
        _one_of(config.broker.type, BROKER_TYPES, "broker.type", "broker type")
    if config.presence_manager.enabled:
        _one_of(
            config.presence_manager.type,
            PRESENCE_MANAGER_TYPES,
            "presence_manager.type",
            "presence manager type",
        )
    _one_of(config.http_api.error_mode, ERROR_MODES, "http_api.error_mode", "error mode")
    _one_of(config.grpc_api.error_mode, ERROR_MODES, "grpc_api.error_mode", "error mode")
    client = config.client
    if 0 < client.ping_interval <= client.pong_timeout:
        raise ConfigError(
            f"client.pong_timeout: {format_duration(client.pong_timeout)} must be less than "
            f"client.ping_interval {format_duration(client.ping_interval)}"
        )
    _check_token(client.token, "client.token")
    _check_token(client.subscription_token, "client.subscription_token")
    proxies = _check_names(config.proxies, "proxies", "proxy")
    if "default" in proxies:
        index = [p.name for p in config.proxies].index("default")
        raise ConfigError(f"proxies[{index}].name: proxy name 'default' is reserved")
    channel = config.channel
    _one_of(
        channel.publication_data_format,
        DATA_FORMATS,
        "channel.publication_data_format",
        "publication data format",
    )
    if channel.history_meta_ttl < 0:
        raise ConfigError(f"channel.history_meta_ttl: must be >= 0, got {channel.history_meta_ttl}")
    namespaces = _check_names(channel.namespaces, "channel.namespaces", "namespace")
    meta = channel.history_meta_ttl
    _check_options(channel.without_namespace, "channel.without_namespace", meta, proxies)
    for i, ns in enumerate(channel.namespaces):
        _check_options(ns, f"channel.namespaces[{i}]", meta, proxies)
    _check_names(config.rpc.namespaces, "rpc.namespaces", "rpc namespace")
    _check_proxy_name(
        config.rpc.without_namespace.proxy_name, proxies, "rpc.without_namespace.proxy_name"
    )
    for i, rpc_ns in enumerate(config.rpc.namespaces):
        _check_proxy_name(rpc_ns.proxy_name, proxies, f"rpc.namespaces[{i}].proxy_name")
    _check_personal(config, namespaces)
    _check_proxy_objects(config)


def _check_personal(config: schema.Config, namespaces: set[str]) -> None:
    """SV-14, CH-62: the personal channel namespace exists; single connection needs presence."""
    personal = config.client.subscribe_to_user_personal_channel
    path = "client.subscribe_to_user_personal_channel"
    name = personal.personal_channel_namespace
    if name and name not in namespaces:
        raise ConfigError(
            f"{path}.personal_channel_namespace: namespace {name!r} not found in channel.namespaces"
        )
    if personal.enabled and personal.single_connection:
        if name:
            opts: schema.ChannelOptions = next(
                ns for ns in config.channel.namespaces if ns.name == name
            )
        else:
            opts = config.channel.without_namespace
        if not opts.presence:
            raise ConfigError(
                f"{path}.single_connection: requires presence enabled on the personal channel "
                f"namespace {name or 'without_namespace'!r}"
            )
