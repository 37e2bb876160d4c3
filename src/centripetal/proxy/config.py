"""Which proxy object serves which event (spec §4.3, PX-20..PX-28, CH-10, P-39).

Sans-I/O: reads the typed v6 configuration only. The loader has already mapped the flat
v3/v4/v5 keys (``proxy_connect_endpoint``, namespace ``proxy_publish`` ...) onto the v6
layout, so this module knows one layout:

* connection-wide: ``client.proxy.connect`` / ``client.proxy.refresh`` (with ``enabled``);
* channel-wide: ``channel.proxy.{subscribe,publish,sub_refresh}`` chosen by a namespace's
  ``*_proxy_name`` ("" or "default"), or a named entry of ``proxies`` (PX-28);
* RPC: ``rpc.proxy`` or a named proxy, per RPC namespace (``rpc.namespace_boundary``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from centripetal.core.errors import CommandError

if TYPE_CHECKING:
    from centripetal.config.schema import (
        ChannelOptions,
        Config,
        ProxyEndpoint,
        RPCNamespaceOptions,
    )

__all__ = [
    "CHANNEL_KINDS",
    "DEFAULT_NAME",
    "channel_proxy",
    "channel_proxy_used",
    "check_names",
    "is_http_endpoint",
    "named_proxies",
    "rpc_namespace",
    "rpc_proxy",
    "rpc_proxy_used",
]

DEFAULT_NAME = "default"  # PX-28: the reserved name of the inline proxy objects
CHANNEL_KINDS = ("subscribe", "publish", "sub_refresh")


def is_http_endpoint(endpoint: str) -> bool:
    """HTTP proxies only; GRPC endpoints (``grpc://``, ``host:port``) are not served here."""
    return endpoint.startswith(("http://", "https://"))


def named_proxies(config: Config) -> dict[str, ProxyEndpoint]:
    """The ``proxies`` list by name (PX-28)."""
    return {p.name: p for p in config.proxies if p.name}


def _by_name(config: Config, inline: ProxyEndpoint, name: str) -> ProxyEndpoint | None:
    """The proxy object called ``name`` ("" / "default" = ``inline``), or None when there is
    no usable HTTP endpoint (the caller answers 108, P-31, P-33)."""
    found = inline if name in ("", DEFAULT_NAME) else named_proxies(config).get(name)
    if found is None or not is_http_endpoint(found.endpoint):
        return None
    return found


def check_names(config: Config) -> None:
    """Fail on a ``*_proxy_name`` that names no entry of ``proxies`` (PX-28)."""
    known = set(named_proxies(config)) | {"", DEFAULT_NAME}
    scopes: list[tuple[str, ChannelOptions]] = [
        ("channel.without_namespace", config.channel.without_namespace)
    ]
    scopes += [(f"channel.namespaces[{ns.name}]", ns) for ns in config.channel.namespaces]
    for where, opts in scopes:
        for kind in (*CHANNEL_KINDS, "subscribe_stream"):
            name = getattr(opts, f"{kind}_proxy_name")
            if name not in known:
                raise ValueError(f"{where}.{kind}_proxy_name: unknown proxy {name!r}")
    rpc_scopes: list[tuple[str, RPCNamespaceOptions]] = [
        ("rpc.without_namespace", config.rpc.without_namespace)
    ]
    rpc_scopes += [(f"rpc.namespaces[{ns.name}]", ns) for ns in config.rpc.namespaces]
    for where, rpc_opts in rpc_scopes:
        if rpc_opts.proxy_name not in known:
            raise ValueError(f"{where}.proxy_name: unknown proxy {rpc_opts.proxy_name!r}")


def channel_proxy(config: Config, kind: str, opts: ChannelOptions) -> ProxyEndpoint | None:
    """The proxy object of event ``kind`` (``subscribe`` | ``publish`` | ``sub_refresh``) for
    a namespace (PX-22..PX-24, PX-28); None when the namespace has none usable."""
    if not getattr(opts, f"{kind}_proxy_enabled"):
        return None
    name = getattr(opts, f"{kind}_proxy_name")
    inline: ProxyEndpoint = getattr(config.channel.proxy, kind)
    return _by_name(config, inline, name)


def channel_proxy_used(config: Config, kind: str) -> bool:
    """True when some namespace (or channels without namespace) enables the ``kind`` proxy."""
    scopes: list[ChannelOptions] = [config.channel.without_namespace, *config.channel.namespaces]
    return any(getattr(o, f"{kind}_proxy_enabled") for o in scopes)


def rpc_namespace(config: Config, method: str) -> RPCNamespaceOptions:
    """RPC namespace of ``method`` (CH-10, P-39): the prefix before ``rpc.namespace_boundary``;
    no boundary means ``rpc.without_namespace``. Unknown namespace: error 104."""
    rpc = config.rpc
    boundary = rpc.namespace_boundary
    if not boundary or boundary not in method:
        return rpc.without_namespace
    name = method.split(boundary, 1)[0]
    if not name:
        return rpc.without_namespace
    for ns in rpc.namespaces:
        if ns.name == name:
            return ns
    raise CommandError(104)


def rpc_proxy(config: Config, ns: RPCNamespaceOptions) -> ProxyEndpoint | None:
    """Proxy object of an RPC namespace (PX-15, PX-26); None when disabled (error 108)."""
    if not ns.proxy_enabled:
        return None
    return _by_name(config, config.rpc.proxy, ns.proxy_name)


def rpc_proxy_used(config: Config) -> bool:
    """True when some RPC namespace enables a proxy (the RPC hook is installed)."""
    rpc = config.rpc
    return rpc.without_namespace.proxy_enabled or any(ns.proxy_enabled for ns in rpc.namespaces)
