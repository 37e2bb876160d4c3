"""Redis address parsing: ``engine.redis.*`` into shard descriptions (EN-03, EN-04, EN-05).

Every entry of ``engine.redis.address`` is one shard (EN-04). Accepted forms (EN-03):
``host:port``, ``redis://[user:pass@]host:port[/db]``, ``rediss://…`` (TLS),
``redis+sentinel://host:port?sentinel_master_name=…&addr=host2:port2`` and
``redis+cluster://host:port?addr=…`` (EN-03 "cluster" seeds). ``engine.redis.sentinel_address``
with ``sentinel_master_name``, or ``engine.redis.cluster_address``, describe one more shard
kind each and replace the plain address list when set.

TLS (EN-03): ``rediss://`` addresses and ``engine.redis.tls.enabled`` connect over TLS with
the server certificate verified (system CAs, or ``tls.server_ca_pem``) unless
``tls.insecure_skip_verify``; ``shard_tls`` turns the section into the contexts each shard uses
and refuses what the Redis client cannot honour.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from centripetal.config.schema import TLS
from centripetal.config.tree import ConfigError
from centripetal.engines.base import EngineError
from centripetal.tls import ClientTLS, client_context, load_pem

if TYPE_CHECKING:
    from centripetal.config import schema

__all__ = ["ShardAddress", "ShardTLS", "parse_address", "shard_addresses", "shard_tls"]

DEFAULT_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379


@dataclass(slots=True)
class ShardAddress:
    """How to reach one shard: a single server, a Sentinel-managed master or a Cluster."""

    kind: str = "single"  # "single" | "sentinel" | "cluster"
    hosts: list[tuple[str, int]] = field(default_factory=list)
    user: str = ""
    password: str = ""
    db: int = 0
    tls: bool = False
    master_name: str = ""
    sentinel_user: str = ""
    sentinel_password: str = ""


def _host_port(text: str, default_port: int) -> tuple[str, int]:
    text = text.strip()
    if not text:
        raise EngineError("empty redis address")
    if text.startswith("["):  # [::1]:6379
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
        return host, int(port) if port else default_port
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    try:
        return host or "127.0.0.1", int(port)
    except ValueError as exc:
        raise EngineError(f"bad port in redis address {text!r}") from exc


def parse_address(raw: str) -> ShardAddress:
    """Parse one ``engine.redis.address`` entry (EN-03)."""
    text = raw.strip()
    if "://" not in text:
        return ShardAddress(hosts=[_host_port(text, DEFAULT_PORT)])
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    query = {k: v for k, v in parse_qs(parts.query).items()}
    extra = [h for value in query.get("addr", []) for h in value.split(",") if h]
    user = unquote(parts.username or "")
    password = unquote(parts.password or "")
    netloc = parts.netloc.rpartition("@")[2]
    path = parts.path.strip("/")
    try:
        db = int(path) if path else int(query.get("db", ["0"])[0])
    except ValueError as exc:
        raise EngineError(f"bad database number in redis address {raw!r}") from exc
    if scheme in ("redis", "rediss", "unix"):
        kind = "cluster" if extra or query.get("cluster", [""])[0] == "true" else "single"
        hosts = [_host_port(netloc, DEFAULT_PORT)] + [_host_port(h, DEFAULT_PORT) for h in extra]
        return ShardAddress(kind, hosts, user, password, db, scheme == "rediss")
    if scheme in ("redis+cluster", "rediss+cluster"):
        hosts = [_host_port(netloc, DEFAULT_PORT)] + [_host_port(h, DEFAULT_PORT) for h in extra]
        return ShardAddress("cluster", hosts, user, password, 0, scheme.startswith("rediss"))
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        hosts = [_host_port(netloc, DEFAULT_SENTINEL_PORT)]
        hosts += [_host_port(h, DEFAULT_SENTINEL_PORT) for h in extra]
        master = query.get("sentinel_master_name", [""])[0]
        if not master:
            raise EngineError(f"redis address {raw!r}: sentinel_master_name is required")
        return ShardAddress(
            "sentinel",
            hosts,
            query.get("user", [""])[0],
            query.get("password", [""])[0],
            db,
            scheme.startswith("rediss"),
            master,
            query.get("sentinel_user", [user])[0],
            query.get("sentinel_password", [password])[0],
        )
    raise EngineError(f"unsupported redis address scheme {scheme!r} in {raw!r}")


def shard_addresses(cfg: schema.RedisEngine) -> list[ShardAddress]:
    """All shards of ``engine.redis`` with the section-wide credentials applied (EN-03, EN-04).

    ``sentinel_address`` (+ ``sentinel_master_name``) or ``cluster_address`` take precedence
    over ``address`` and make one shard.
    """
    if cfg.sentinel_address:
        if not cfg.sentinel_master_name:
            raise EngineError("engine.redis.sentinel_master_name is required with sentinel_address")
        hosts = [_host_port(h, DEFAULT_SENTINEL_PORT) for h in cfg.sentinel_address]
        shards = [
            ShardAddress(
                "sentinel",
                hosts,
                master_name=cfg.sentinel_master_name,
                sentinel_user=cfg.sentinel_user,
                sentinel_password=cfg.sentinel_password,
            )
        ]
    elif cfg.cluster_address:
        hosts = [h for a in cfg.cluster_address for h in parse_address(a).hosts]
        shards = [ShardAddress("cluster", hosts)]
    else:
        if not cfg.address:
            raise EngineError("engine.redis.address is empty")
        shards = [parse_address(a) for a in cfg.address]
    return [
        replace(
            s,
            user=s.user or cfg.user,
            password=s.password or cfg.password,
            db=s.db or cfg.db,
            tls=s.tls or cfg.tls.enabled,
        )
        for s in shards
    ]


@dataclass(frozen=True, slots=True)
class ShardTLS:
    """TLS of one shard (EN-03): ``client`` for a single server's connections and every
    PUB/SUB connection; ``cluster`` holds the redis-py ``ssl_*`` arguments of a Cluster client
    (redis-py builds those contexts itself, from files)."""

    client: ClientTLS
    cluster: dict[str, Any] = field(default_factory=dict)


def shard_tls(address: ShardAddress, cfg: schema.RedisEngine, key: str) -> ShardTLS | None:
    """The TLS of one shard of section ``key`` (``engine.redis`` ...), ``None`` for plain TCP.

    Raises ``ConfigError`` for what cannot be honoured: TLS to or through Sentinel, a
    ``server_name`` for Redis Cluster (redis-py has no way to set it there), a Cluster client
    certificate given inline rather than as file paths.
    """
    if cfg.sentinel_tls.enabled:
        raise ConfigError(
            f"{key}.sentinel_tls: TLS to Sentinel is not supported; refusing to connect in "
            "plain text"
        )
    if not address.tls:
        return None
    tls = cfg.tls if cfg.tls.enabled else TLS()  # rediss:// alone: verified with system CAs
    tkey = f"{key}.tls"
    if address.kind == "sentinel":
        raise ConfigError(
            f"{tkey}: TLS with Redis Sentinel is not supported; refusing to connect in plain text"
        )
    client = client_context(tls, tkey)
    if address.kind != "cluster":
        return ShardTLS(client)
    if tls.server_name:
        raise ConfigError(
            f"{tkey}.server_name: the Redis client cannot set a TLS server name for Redis Cluster "
            "connections; remove it (each node is verified by its address)"
        )
    skip = tls.insecure_skip_verify
    cluster: dict[str, Any] = {
        "ssl": True,
        "ssl_min_version": ssl.TLSVersion.TLSv1_2,
        "ssl_cert_reqs": "none" if skip else "required",
        "ssl_check_hostname": not skip,
    }
    if tls.server_ca_pem:
        ca = load_pem(tls.server_ca_pem, f"{tkey}.server_ca_pem")
        cluster["ssl_ca_data"] = ca.data.decode("ascii", "replace")
    if tls.cert_pem:
        cert = load_pem(tls.cert_pem, f"{tkey}.cert_pem")
        private = load_pem(tls.key_pem, f"{tkey}.key_pem")
        if cert.file is None or private.file is None:
            raise ConfigError(
                f"{tkey}.cert_pem: Redis Cluster connections need the client certificate and key "
                "as file paths (the Redis client reads them at every connect)"
            )
        cluster["ssl_certfile"] = cert.file
        cluster["ssl_keyfile"] = private.file
    return ShardTLS(client, cluster)
