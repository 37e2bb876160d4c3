"""Client-side sharding and per-shard clients (EN-03, EN-04).

A channel maps to one shard by Jump consistent hash (Lamping & Veach, 2014) over the 64-bit
FNV-1a hash of the channel name; the same index serves PUB/SUB, history and presence keys, so
everything about one channel lives on one shard.

TLS (EN-03): a single server's pool and every PUB/SUB connection use ``TLSConnection``, which
hands the context built from ``engine.redis.tls`` (``centripetal.tls``) and its ``server_name``
to the socket; Cluster clients get redis-py's own ``ssl_*`` arguments (``addresses.shard_tls``).

Protocol (EN-03 ``force_resp2``): command connections ask for RESP3 with ``HELLO 3`` and fall
back to RESP2 when the server refuses it (redis-py's behaviour when no protocol is given, as
Centrifugo's client does); ``force_resp2`` pins them to RESP2. PUB/SUB connections always speak
RESP2: redis-py hands RESP3 push frames through extra per-message dispatch, measured at about
half the message rate of RESP2 on the same reader.

Commands (EN-03, EN-04): every command of the engine goes through ``Shard.execute``, which
pipelines it automatically (``pipeline``) on one connection per Redis server: the server of a
single-address or Sentinel shard, or the Cluster node that holds the command's key. The
connection is made by redis-py from the shard's own connection settings. A Cluster reply
``MOVED``/``ASK``/``TRYAGAIN``/``CLUSTERDOWN`` or a lost node hands that one command to
redis-py's Cluster client, which follows the redirect and refreshes its slot table.

Replicas (EN-03 ``replica_client``): with ``replica=True`` a Sentinel shard also gets a client
on the replicas Sentinel reports (the master when there is none) and a Cluster shard a client
that routes read-only commands to replicas; a single server address has no way to find its
replicas and gets none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import AbstractConnection, Connection
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.cluster import LoadBalancingStrategy
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, ResponseError

from centripetal.engines.redis.addresses import ShardAddress, ShardTLS
from centripetal.engines.redis.pipeline import Pipeline
from centripetal.tls import ClientTLS

__all__ = ["Shard", "TLSConnection", "fnv1a_64", "jump_hash", "shard_index"]

# Cluster replies after which redis-py's Cluster client takes the command (it follows them)
_CLUSTER_REDIRECTS = ("MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN")

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = 0xFFFFFFFFFFFFFFFF


def fnv1a_64(data: bytes) -> int:
    """64-bit FNV-1a: stable across processes and versions (unlike ``hash()``)."""
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    return h


def jump_hash(key: int, buckets: int) -> int:
    """Jump consistent hash of a 64-bit ``key`` into ``[0, buckets)`` (EN-04)."""
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & _MASK64
        j = int((b + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return b


def shard_index(channel: str, shards: int) -> int:
    """The shard of ``channel`` among ``shards`` (0 when there is one)."""
    if shards <= 1:
        return 0
    return jump_hash(fnv1a_64(channel.encode()), shards)


class TLSConnection(Connection):
    """A redis-py connection over TLS with a context built by ``centripetal.tls``: the
    verification settings, client certificate and ``server_name`` (SNI and the name checked)
    of the configured TLS object, none of which redis-py's own ``SSLConnection`` can take."""

    def __init__(self, *, tls: ClientTLS, **kwargs: Any) -> None:
        self.tls = tls
        super().__init__(**kwargs)

    def _connection_arguments(self) -> Mapping[str, Any]:
        args = dict(super()._connection_arguments())
        args["ssl"] = self.tls.context
        if self.tls.server_name:
            args["server_hostname"] = self.tls.server_name
        return args

    async def on_connect_check_health(self, check_health: bool = True) -> None:
        """The handshake after TLS; when the server closed the connection meanwhile (with TLS
        1.3 a refused client certificate arrives as an alert after the TLS handshake), the
        error names the alert instead of only "closed by the server"."""
        reader = self._reader
        try:
            await super().on_connect_check_health(check_health=check_health)
        except RedisConnectionError as exc:
            reason = reader.exception() if reader is not None else None
            if reason is None or str(reason) in str(exc):
                raise
            raise RedisConnectionError(f"{exc} ({reason})") from reason


@dataclass(slots=True)
class Timeouts:
    connect: float
    io: float


class Shard:
    """One shard: a command client and the address of its PUB/SUB connection.

    Commands never retry on their own (a retried publish script could publish twice); callers
    map failures to ``EngineError``. ``cluster`` shards wrap keys in hash tags (EN-06).
    ``replica`` is the read-only client on the shard's replicas, ``None`` unless asked for and
    possible (Sentinel, Cluster).
    ``client_name`` names every connection to Redis, the PUB/SUB one included;
    ``sentinel_client_name`` names the connections to the Sentinels (``CLIENT SETNAME``).
    """

    def __init__(
        self,
        address: ShardAddress,
        timeouts: Timeouts,
        client_name: str = "",
        tls: ShardTLS | None = None,
        *,
        force_resp2: bool = False,
        replica: bool = False,
        sentinel_client_name: str = "",
    ) -> None:
        if address.tls and tls is None:
            raise ValueError("a TLS shard address needs its ShardTLS")
        self.address = address
        self.tls = tls
        self.timeouts = timeouts
        self.cluster = address.kind == "cluster"
        self.client_name = client_name
        self._sentinel: Sentinel | None = None
        self._pipelines: dict[str, Pipeline] = {}
        self._cluster_ready = False
        self._cluster_init: asyncio.Task[Any] | None = None
        common: dict[str, Any] = {
            "socket_connect_timeout": timeouts.connect,
            "socket_timeout": timeouts.io,
            "retry": Retry(NoBackoff(), 0),
            "username": address.user or None,
            "password": address.password or None,
        }
        if client_name:
            common["client_name"] = client_name
        if force_resp2:
            common["protocol"] = 2
        self.client: Redis | RedisCluster
        self.replica: Redis | RedisCluster | None = None
        if address.kind == "cluster":
            nodes = [ClusterNode(h, p) for h, p in address.hosts]
            cluster_tls = tls.cluster if tls is not None else {}
            self.client = RedisCluster(startup_nodes=nodes, **common, **cluster_tls)
            if replica:
                self.replica = RedisCluster(
                    startup_nodes=nodes,
                    load_balancing_strategy=LoadBalancingStrategy.ROUND_ROBIN_REPLICAS,
                    **common,
                    **cluster_tls,
                )
        elif address.kind == "sentinel":
            sentinel_kwargs: dict[str, Any] = {
                "socket_connect_timeout": timeouts.connect,
                "socket_timeout": timeouts.io,
                "username": address.sentinel_user or None,
                "password": address.sentinel_password or None,
                "client_name": sentinel_client_name or None,
            }
            if force_resp2:
                sentinel_kwargs["protocol"] = 2
            self._sentinel = Sentinel(
                address.hosts, sentinel_kwargs=sentinel_kwargs, db=address.db, **common
            )
            self.client = self._sentinel.master_for(address.master_name, db=address.db)
            if replica:
                self.replica = self._sentinel.slave_for(address.master_name, db=address.db)
        elif tls is not None:
            host, port = address.hosts[0]
            pool = ConnectionPool(
                connection_class=TLSConnection,
                host=host,
                port=port,
                db=address.db,
                tls=tls.client,
                **common,
            )
            self.client = Redis.from_pool(pool)
        else:
            host, port = address.hosts[0]
            self.client = Redis(host=host, port=port, db=address.db, **common)

    # -- commands ----------------------------------------------------------------------------

    async def execute(self, *args: Any, key: str, retry: bool = True) -> Any:
        """Run one command, pipelined with the others to the same server (module docstring).

        ``key`` is a key the command touches (it picks the Cluster node); ``retry`` sends a
        command lost with its connection once more (``Pipeline.execute``). Raises redis-py's
        exceptions: ``ResponseError`` for an error reply, ``ConnectionError``/``TimeoutError``."""
        if not self.cluster:
            return await self._pipeline("", self._make_connection).execute(*args, retry=retry)
        client = self.client
        assert isinstance(client, RedisCluster)
        if not self._cluster_ready:
            await self._initialize_cluster(client)
        try:
            node = client.get_node_from_key(key)
        except RedisClusterException:  # slot not covered now: redis-py re-reads the slots
            node = None
        if node is None:
            return await client.execute_command(*args)
        pipeline = self._pipeline(
            node.name, lambda: node.connection_class(**node.connection_kwargs)
        )
        try:
            return await pipeline.execute(*args, retry=False)
        except ResponseError as exc:
            if not str(exc).startswith(_CLUSTER_REDIRECTS):
                raise
        except RedisConnectionError:
            if not retry:
                raise
        # the slot moved or its node is gone: redis-py finds the new owner and refreshes
        return await client.execute_command(*args)

    async def _initialize_cluster(self, client: RedisCluster) -> None:
        """Read the slot table once; callers that arrive meanwhile wait for the same read and
        go on in the order they came (their commands keep their order)."""
        if self._cluster_init is None or self._cluster_init.done():
            self._cluster_init = asyncio.get_running_loop().create_task(client.initialize())
        try:
            await asyncio.shield(self._cluster_init)
        except RedisClusterException as exc:  # not a RedisError: say it as one
            raise RedisConnectionError(f"redis cluster: {exc}") from exc
        self._cluster_ready = True

    def _make_connection(self) -> AbstractConnection:
        """A new connection with the settings of the shard's pool (Sentinel: to the master)."""
        client = self.client
        assert isinstance(client, Redis)
        return client.connection_pool.make_connection()

    def _pipeline(self, name: str, make: Callable[[], AbstractConnection]) -> Pipeline:
        pipeline = self._pipelines.get(name)
        if pipeline is None:

            async def open_connection() -> AbstractConnection:
                conn = make()
                await conn.connect()
                return conn

            where = name or ",".join(f"{h}:{p}" for h, p in self.address.hosts)
            pipeline = Pipeline(
                open_connection,
                io_timeout=self.timeouts.io,
                connect_timeout=self.timeouts.connect,
                name=f"redis {where}",
            )
            self._pipelines[name] = pipeline
        return pipeline

    @property
    def pipelines(self) -> list[Pipeline]:
        """The pipelines opened so far (one per server reached)."""
        return list(self._pipelines.values())

    def key(self, prefix: str, kind: str, channel: str, suffix: str = "") -> str:
        """``<prefix>.<kind>.<channel>[.<suffix>]``; cluster shards tag the channel (EN-06)."""
        name = "{" + channel + "}" if self.cluster else channel
        return f"{prefix}.{kind}.{name}.{suffix}" if suffix else f"{prefix}.{kind}.{name}"

    async def pubsub_target(self, attempt: int = 0) -> tuple[str, int, dict[str, Any]]:
        """Where to open the PUB/SUB connection now: the master (Sentinel), any node (Cluster:
        classic PUBLISH reaches every node) or the server itself."""
        a = self.address
        if self._sentinel is not None:
            host, port = await self._sentinel.discover_master(a.master_name)
        else:
            host, port = a.hosts[attempt % len(a.hosts)]
        kwargs: dict[str, Any] = {
            "username": a.user or None,
            "password": a.password or None,
            "client_name": self.client_name or None,
            "socket_connect_timeout": self.timeouts.connect,
            "retry": Retry(NoBackoff(), 0),
        }
        if not self.cluster:
            kwargs["db"] = a.db
        return str(host), int(port), kwargs

    async def close(self) -> None:
        pipelines, self._pipelines = self._pipelines, {}
        for pipeline in pipelines.values():
            await pipeline.close()
        await self.client.aclose()
        if self.replica is not None:
            await self.replica.aclose()
