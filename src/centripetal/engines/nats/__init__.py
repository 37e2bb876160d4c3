"""The NATS broker (EN-08): PUB/SUB between nodes, no history; presence comes from elsewhere.

``create_nats_broker(cfg)`` builds it from ``broker.nats`` (v6 keys; the v3 keys ``nats_url``,
``nats_prefix``, ``nats_dial_timeout``, ``nats_write_timeout`` arrive translated, EN-08).
``broker.nats.tls`` connects over TLS only, verified as configured (``tls_context``).
Needs the optional dependency ``nats-py`` (extra ``nats``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from centripetal.engines.base import EngineError
from centripetal.tls import ClientTLS, client_context

if TYPE_CHECKING:
    from centripetal.config import schema
    from centripetal.engines.nats.broker import NatsBroker

__all__ = ["create_nats_broker", "tls_context"]


def tls_context(tls: schema.TLS, key: str = "broker.nats.tls") -> ClientTLS | None:
    """The client TLS of ``broker.nats.tls`` (``None`` when disabled), built by
    ``centripetal.tls``: PEM values as text, base64 or file paths; ``server_ca_pem`` replaces
    the system CAs; ``cert_pem`` + ``key_pem`` present a client certificate;
    ``insecure_skip_verify`` turns verification off; ``server_name`` is the name verified and
    sent (nats-py's ``tls_hostname``). Raises ``ConfigError`` naming the key."""
    if not tls.enabled:
        return None
    return client_context(tls, key)


def create_nats_broker(cfg: schema.NatsBroker) -> NatsBroker:
    """Build (not connect) the broker for ``broker.type: nats`` (EN-07, EN-08)."""
    try:
        from centripetal.engines.nats.broker import NatsBroker
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise EngineError(
            "broker.type 'nats' needs the nats-py package: pip install 'centripetal[nats]'"
        ) from exc
    if cfg.raw_mode.enabled:
        raise EngineError("broker.nats.raw_mode is not supported")
    return NatsBroker(
        cfg.url,
        prefix=cfg.prefix,
        dial_timeout=cfg.dial_timeout,
        write_timeout=cfg.write_timeout,
        tls=tls_context(cfg.tls),
        allow_wildcards=cfg.allow_wildcards,
    )
