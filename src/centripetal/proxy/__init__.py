"""Proxies to the application backend over HTTP (spec §4, PX-01..PX-28; reliability R-11).

``install(node)`` reads the configuration and sets the node's hooks (``core.hooks``):

* ``connect_proxy`` / ``refresh_proxy`` when ``client.proxy.connect`` / ``.refresh`` are
  ``enabled`` with an HTTP endpoint (PX-20, PX-21);
* ``subscribe_proxy`` / ``publish_proxy`` / ``sub_refresh_proxy`` when some namespace enables
  them; each call picks the proxy object by the namespace's ``*_proxy_name`` (PX-22..PX-28);
* ``rpc_proxy`` when some RPC namespace enables a proxy (PX-26, CH-10, P-39).

GRPC proxy endpoints are not supported: they are reported and left uninstalled.
Every proxy object's ``http.tls`` is built here, before anything listens: one that is
enabled but cannot be honoured stops the start (``ConfigError``, PX-27).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from centripetal.proxy.config import (
    CHANNEL_KINDS,
    channel_proxy_used,
    check_names,
    is_http_endpoint,
    rpc_proxy_used,
)
from centripetal.proxy.handlers import ProxyHooks
from centripetal.tls import proxy_contexts

if TYPE_CHECKING:
    from centripetal.config.schema import Config, ProxyEndpoint
    from centripetal.node import Node

__all__ = ["ProxyHooks", "install"]

logger = logging.getLogger("centripetal.proxy")


def _usable(ep: ProxyEndpoint, key: str) -> bool:
    if not ep.endpoint:
        logger.warning("%s.enabled is set but %s.endpoint is empty: proxy off", key, key)
        return False
    if not is_http_endpoint(ep.endpoint):
        logger.warning("%s.endpoint %r: only HTTP(S) proxies are supported", key, ep.endpoint)
        return False
    return True


def _warn_grpc(config: Config) -> None:
    eps = [(f"channel.proxy.{k}", getattr(config.channel.proxy, k)) for k in CHANNEL_KINDS]
    eps += [("rpc.proxy", config.rpc.proxy)]
    eps += [(f"proxies[{p.name}]", p) for p in config.proxies]
    for key, ep in eps:
        if ep.endpoint and not is_http_endpoint(ep.endpoint):
            logger.warning("%s.endpoint %r: only HTTP(S) proxies are supported", key, ep.endpoint)


def install(node: Node) -> ProxyHooks | None:
    """Set the proxy hooks a configuration asks for on ``node``; return them (None: none).

    Raises ``ValueError`` naming the key when a ``*_proxy_name`` is not in ``proxies`` or an
    enabled ``http.tls`` cannot be honoured (``ConfigError``)."""
    config = node.config
    check_names(config)
    _warn_grpc(config)
    proxy_hooks = ProxyHooks(node, proxy_contexts(config))
    wanted: list[str] = []
    client = config.client.proxy
    if client.connect.enabled and _usable(client.connect, "client.proxy.connect"):
        wanted.append("connect_proxy")
    if client.refresh.enabled and _usable(client.refresh, "client.proxy.refresh"):
        wanted.append("refresh_proxy")
    wanted += [f"{kind}_proxy" for kind in CHANNEL_KINDS if channel_proxy_used(config, kind)]
    if rpc_proxy_used(config):
        wanted.append("rpc_proxy")
    if not wanted:
        return None
    bound = proxy_hooks.as_node_hooks()
    for attr in wanted:
        setattr(node, attr, bound[attr])
    logger.info("proxy hooks installed: %s", ", ".join(wanted))
    return proxy_hooks
