"""The NATS broker (EN-08): PUB/SUB between nodes, no history; presence comes from elsewhere.

``create_nats_broker(cfg)`` builds it from ``broker.nats`` (v6 keys; the v3 keys ``nats_url``,
``nats_prefix``, ``nats_dial_timeout``, ``nats_write_timeout`` arrive translated, EN-08).
Needs the optional dependency ``nats-py`` (extra ``nats``).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from centripetal.engines.base import EngineError

if TYPE_CHECKING:
    from centripetal.config import schema
    from centripetal.engines.nats.broker import NatsBroker

__all__ = ["create_nats_broker", "tls_context"]


def tls_context(tls: schema.TLS) -> ssl.SSLContext | None:
    """A client TLS context for ``broker.nats.tls`` (``None`` when disabled).

    ``server_ca_pem`` is PEM text; ``cert_pem``/``key_pem`` are PEM files for a client
    certificate; ``insecure_skip_verify`` turns verification off.
    """
    if not tls.enabled:
        return None
    ctx = ssl.create_default_context(cadata=tls.server_ca_pem or None)
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.cert_pem and tls.key_pem:
        ctx.load_cert_chain(tls.cert_pem, tls.key_pem)
    return ctx


def create_nats_broker(cfg: schema.NatsBroker) -> NatsBroker:
    """Build (not connect) the broker for ``broker.type: nats`` (EN-07, EN-08)."""
    try:
        from centripetal.engines.nats.broker import NatsBroker
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise EngineError(
            "broker.type 'nats' needs the nats-py package: pip install 'centripetal[nats]'"
        ) from exc
    if cfg.raw_mode.get("enabled"):
        raise EngineError("broker.nats.raw_mode is not supported")
    return NatsBroker(
        cfg.url,
        prefix=cfg.prefix,
        dial_timeout=cfg.dial_timeout,
        write_timeout=cfg.write_timeout,
        tls=tls_context(cfg.tls),
        allow_wildcards=cfg.allow_wildcards,
    )
