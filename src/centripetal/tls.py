"""TLS contexts from the unified TLS object, for every socket centripetal opens or accepts.

Spec: SV-01 (``http_server.tls``, ``internal_tls``, ``tls_external``, ``tls_autocert``), PX-03
and PX-27 (per-proxy ``http.tls``), EN-03 (``engine.redis.tls``), EN-08 (``broker.nats.tls``).

One object shape serves them all: ``enabled``, ``cert_pem``, ``key_pem``, ``server_ca_pem``,
``client_ca_pem``, ``insecure_skip_verify``, ``server_name``. Each ``*_pem`` value is tried in
this order: raw PEM text, standard base64 of PEM text, the path of a file holding PEM text.

Nothing here fails open: a value that cannot be honoured raises ``ConfigError`` whose message
starts with the key path (``http_server.tls.key_pem: ...``) and the caller refuses to start.
``ssl.SSLContext.load_cert_chain`` reads files only, so PEM given inline is written to a
private temporary file (mode 0600) for the duration of that one call.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from centripetal.config.tree import ConfigError

if TYPE_CHECKING:
    from centripetal.config import schema

__all__ = [
    "PEM_INVALID",
    "ClientTLS",
    "Pem",
    "check_config",
    "client_context",
    "listener_contexts",
    "load_pem",
    "proxy_contexts",
    "server_context",
]

PEM_INVALID = (
    "invalid PEM data: not a valid file path, base64-encoded PEM content, or raw PEM content"
)
AUTOCERT_UNSUPPORTED = (
    "http_server.tls_autocert.enabled: automatic certificates (ACME / Let's Encrypt) are not "
    "supported; set http_server.tls.cert_pem and http_server.tls.key_pem, or terminate TLS in "
    "a reverse proxy"
)
MIN_VERSION = ssl.TLSVersion.TLSv1_2

_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Pem:
    """PEM bytes and, when they came from a file, its path."""

    data: bytes
    file: str | None
    kinds: tuple[str, ...]  # the block types found, e.g. ("CERTIFICATE", "CERTIFICATE")


@dataclass(frozen=True, slots=True)
class ClientTLS:
    """What a client socket needs: the context and the name to verify and send as SNI
    (``None``: the host name of the address)."""

    context: ssl.SSLContext
    server_name: str | None


def _blocks(data: bytes) -> tuple[str, ...]:
    """Types of the well-formed PEM blocks in ``data`` (empty: none)."""
    kinds: list[str] = []
    for match in _BLOCK.finditer(data):
        body = match.group(2)
        if b":" in body.split(b"\n", 1)[0]:  # RFC 1421 headers end at the first blank line
            body = re.split(rb"\r?\n\r?\n", body, maxsplit=1)[-1]
        try:
            base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        kinds.append(match.group(1).decode("ascii"))
    return tuple(kinds)


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return None


def load_pem(value: str, key: str) -> Pem:
    """Resolve one ``*_pem`` value: raw PEM, then base64 PEM, then a PEM file path."""
    raw = value.encode("utf-8", "surrogateescape")
    kinds = _blocks(raw)
    if kinds:
        return Pem(raw, None, kinds)
    decoded = _b64(value)
    if decoded is not None:
        kinds = _blocks(decoded)
        if kinds:
            return Pem(decoded, None, kinds)
    if os.path.isfile(value):
        try:
            with open(value, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise ConfigError(f"{key}: cannot read file {value!r}: {exc.strerror}") from None
        kinds = _blocks(data)
        if not kinds:
            raise ConfigError(f"{key}: file {value!r} holds no valid PEM data")
        return Pem(data, value, kinds)
    raise ConfigError(f"{key}: {PEM_INVALID}")


def _certificates(value: str, key: str) -> Pem:
    pem = load_pem(value, key)
    if "CERTIFICATE" not in pem.kinds:
        raise ConfigError(f"{key}: no CERTIFICATE block in the PEM data (found {_kinds(pem)})")
    return pem


def _private_key(value: str, key: str) -> Pem:
    pem = load_pem(value, key)
    if "ENCRYPTED PRIVATE KEY" in pem.kinds or b"Proc-Type: 4,ENCRYPTED" in pem.data:
        raise ConfigError(f"{key}: encrypted private keys are not supported")
    if not any(kind.endswith("PRIVATE KEY") for kind in pem.kinds):
        raise ConfigError(f"{key}: no PRIVATE KEY block in the PEM data (found {_kinds(pem)})")
    return pem


def _kinds(pem: Pem) -> str:
    return ", ".join(sorted(set(pem.kinds)))


@contextlib.contextmanager
def _as_file(pem: Pem) -> Iterator[str]:
    """The PEM's own file, or a private temporary copy removed on exit."""
    if pem.file is not None:
        yield pem.file
        return
    fd, name = tempfile.mkstemp(prefix="centripetal-tls-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem.data)
        yield name
    finally:
        os.unlink(name)


def _no_password() -> bytes:
    raise ConfigError("encrypted private keys are not supported")


def _load_pair(ctx: ssl.SSLContext, tls: schema.TLS, key: str) -> None:
    """Load ``cert_pem`` + ``key_pem`` into ``ctx``; both must be set."""
    for field, other in (("cert_pem", "key_pem"), ("key_pem", "cert_pem")):
        if not getattr(tls, field):
            raise ConfigError(f"{key}.{field}: required together with {key}.{other}")
    cert = _certificates(tls.cert_pem, f"{key}.cert_pem")
    private = _private_key(tls.key_pem, f"{key}.key_pem")
    with _as_file(cert) as certfile, _as_file(private) as keyfile:
        try:
            ctx.load_cert_chain(certfile, keyfile, password=_no_password)
        except ConfigError as exc:
            raise ConfigError(f"{key}.key_pem: {exc}") from None
        except ssl.SSLError as exc:
            if exc.reason == "KEY_VALUES_MISMATCH":
                reason = f"the private key does not match the certificate of {key}.cert_pem"
            else:
                reason = f"cannot load the certificate and key ({exc.reason or exc})"
            raise ConfigError(f"{key}.key_pem: {reason}") from None


def _load_ca(ctx: ssl.SSLContext, value: str, key: str) -> None:
    pem = _certificates(value, key)
    try:
        ctx.load_verify_locations(cadata=pem.data.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{key}: cannot load the CA certificates ({exc})") from None


def server_context(tls: schema.TLS, key: str) -> ssl.SSLContext:
    """A listening socket's context (SV-01): TLS >= 1.2, ``cert_pem`` + ``key_pem`` required,
    ``client_ca_pem`` makes client certificates required and verified."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = MIN_VERSION
    ctx.set_alpn_protocols(["http/1.1"])
    if not tls.cert_pem and not tls.key_pem:
        raise ConfigError(f"{key}.cert_pem: required when {key}.enabled is true (with key_pem)")
    _load_pair(ctx, tls, key)
    if tls.client_ca_pem:
        _load_ca(ctx, tls.client_ca_pem, f"{key}.client_ca_pem")
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(tls: schema.TLS, key: str) -> ClientTLS:
    """An outgoing socket's context (PX-27, EN-03, EN-08): the system CAs, or only
    ``server_ca_pem`` when set; ``insecure_skip_verify`` turns verification and the host name
    check off; ``cert_pem`` + ``key_pem`` present a client certificate (mutual TLS)."""
    if tls.server_ca_pem:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies peer and host name
        _load_ca(ctx, tls.server_ca_pem, f"{key}.server_ca_pem")
    else:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = MIN_VERSION
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.cert_pem or tls.key_pem:
        _load_pair(ctx, tls, key)
    return ClientTLS(ctx, tls.server_name or None)


def listener_contexts(
    hs: schema.HTTPServer,
) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    """Contexts of the main and the internal port (SV-01); ``None`` serves plain HTTP.

    The main port uses ``http_server.tls``. The internal port uses ``internal_tls`` when it
    is enabled, else ``tls`` unless ``tls_external`` limits TLS to the main port. Every
    enabled object is checked even when no port uses it: a TLS setting that cannot be honoured
    stops the start. ``tls_autocert`` is refused.
    """
    if hs.tls_autocert.enabled:
        raise ConfigError(AUTOCERT_UNSUPPORTED)
    main = server_context(hs.tls, "http_server.tls") if hs.tls.enabled else None
    internal_own = (
        server_context(hs.internal_tls, "http_server.internal_tls")
        if hs.internal_tls.enabled
        else None
    )
    if internal_own is not None:
        return main, internal_own
    return main, (None if hs.tls_external else main)


def _proxy_objects(config: schema.Config) -> Iterator[tuple[str, schema.ProxyEndpoint]]:
    yield "client.proxy.connect", config.client.proxy.connect
    yield "client.proxy.refresh", config.client.proxy.refresh
    for kind in ("subscribe", "publish", "sub_refresh", "subscribe_stream"):
        yield f"channel.proxy.{kind}", getattr(config.channel.proxy, kind)
    yield "rpc.proxy", config.rpc.proxy
    for i, named in enumerate(config.proxies):
        yield f"proxies[{i}]", named


def proxy_contexts(config: schema.Config) -> dict[int, ClientTLS]:
    """``id(proxy object) -> ClientTLS`` for every proxy object whose ``http.tls`` is enabled
    (PX-27); a broken one raises ``ConfigError``."""
    found: dict[int, ClientTLS] = {}
    for key, ep in _proxy_objects(config):
        if not ep.http.tls.enabled:
            continue
        if ep.endpoint.startswith("http://"):
            raise ConfigError(
                f"{key}.http.tls: enabled, but {key}.endpoint {ep.endpoint!r} is plain http:// "
                "(requests would not be encrypted); use https://"
            )
        found[id(ep)] = client_context(ep.http.tls, f"{key}.http.tls")
    return found


def check_config(config: schema.Config) -> None:
    """Build every TLS context the configuration asks for, raising the first problem as a
    ``ConfigError`` (used at startup and by ``checkconfig``): the listening ports, every proxy
    object, and the Redis and NATS connections of the engines in use."""
    listener_contexts(config.http_server)
    proxy_contexts(config)
    redis_sections = []
    if config.engine.type == "redis" and not (
        config.broker.enabled and config.presence_manager.enabled
    ):
        redis_sections.append(("engine.redis", config.engine.redis))
    if config.broker.enabled and config.broker.type == "redis":
        redis_sections.append(("broker.redis", config.broker.redis))
    if config.presence_manager.enabled and config.presence_manager.type == "redis":
        redis_sections.append(("presence_manager.redis", config.presence_manager.redis))
    if redis_sections:
        from centripetal.engines.base import EngineError
        from centripetal.engines.redis.addresses import shard_addresses, shard_tls

        for key, section in redis_sections:
            try:
                addresses = shard_addresses(section)
            except EngineError as exc:
                raise ConfigError(f"{key}.address: {exc}") from None
            for address in addresses:
                shard_tls(address, section, key)
    if config.broker.enabled and config.broker.type == "nats" and config.broker.nats.tls.enabled:
        client_context(config.broker.nats.tls, "broker.nats.tls")
