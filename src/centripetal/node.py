"""The node: owns the engine, the hub, the timers and the registry of client sessions.

It executes what sessions ask for (subscribe a channel on the broker, publish, presence) and
is the broker's event handler, turning broker messages into hub fan-out (DESIGN §3).
Every dict keyed by channel, user or client is cleaned when its last entry goes (DESIGN §5).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import aiohttp

from centripetal.auth_jwks import JWKSKeySource
from centripetal.cluster import Cluster, Target
from centripetal.core import hooks
from centripetal.core.channels import ChannelRules
from centripetal.core.tokens import TokenVerifier
from centripetal.engines import create_engine
from centripetal.engines.base import ClientInfo, Publication, PublishOptions, StreamPosition
from centripetal.engines.memory.broker import MemoryBroker
from centripetal.engines.memory.presence import MemoryPresenceManager
from centripetal.hub import Hub, Subscriber
from centripetal.observability import metrics
from centripetal.observability.logs import failure_log
from centripetal.observability.metrics import NodeMetrics
from centripetal.timers import TimerQueue
from centripetal.version import server_version

if TYPE_CHECKING:
    from centripetal.cluster import EmulationTarget
    from centripetal.config.schema import ChannelOptions, Config
    from centripetal.core.session import ClientSession

logger = logging.getLogger("centripetal.node")
failures = failure_log("centripetal.node")


class Node:
    """One centripetal server process."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.uid = str(uuid.uuid4())
        self.name = config.node.name or f"{socket.gethostname()}_{config.http_server.port}"
        self.version = server_version()
        self.started_at = time.time()
        self.rules = ChannelRules(config.channel)
        self._http: aiohttp.ClientSession | None = None
        ccfg = config.client
        skip = ccfg.insecure_skip_token_signature_verify
        self.verifier = TokenVerifier(
            ccfg.token, jwks=self._jwks(ccfg.token.jwks_public_endpoint), skip_signature=skip
        )
        if ccfg.subscription_token.enabled:  # AU-22
            sub_cfg = ccfg.subscription_token
            self.sub_verifier = TokenVerifier(
                sub_cfg, jwks=self._jwks(sub_cfg.jwks_public_endpoint), skip_signature=skip
            )
        else:
            self.sub_verifier = self.verifier
        self.broker, self.presence_manager = create_engine(config)
        # memory broker and presence: no call into the engine waits on the network (eager.py)
        self.local_engine = isinstance(self.broker, MemoryBroker) and isinstance(
            self.presence_manager, MemoryPresenceManager
        )
        self.broker.set_event_handler(self)
        self.metrics = NodeMetrics()
        self.hub = Hub(self.metrics, max_time_lag=ccfg.channel_position_max_time_lag)
        if self.hub.max_time_lag_ms:  # HR-03: only then pay for a clock read per publication
            lag_checked = self._handle_publication_lag_checked
            self.handle_publication = lag_checked  # type: ignore[method-assign]
        self.timers = TimerQueue()
        self.sessions: dict[str, ClientSession] = {}
        self.users: dict[str, set[str]] = {}
        # emulated bidirectional sessions by their ``session`` id (TR-04, cluster.emulate)
        self.emulation_targets: dict[str, EmulationTarget] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # Application-backend hooks (core.hooks), installed by the proxy layer; None = off.
        self.connect_proxy: hooks.ConnectHook | None = None
        self.refresh_proxy: hooks.RefreshHook | None = None
        self.subscribe_proxy: hooks.SubscribeHook | None = None
        self.publish_proxy: hooks.PublishHook | None = None
        self.sub_refresh_proxy: hooks.SubRefreshHook | None = None
        self.rpc_proxy: hooks.RPCHook | None = None
        self.message_handler: Callable[[ClientSession, bytes], None] | None = None
        self.shutting_down = False
        self.cluster = Cluster(self)
        metrics.install(self)

    def http_session(self) -> aiohttp.ClientSession:
        """The node's pooled HTTP client (JWKS, proxies), created on first use."""
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100), auto_decompress=True
            )
        return self._http

    def _jwks(self, url: str) -> JWKSKeySource | None:
        return JWKSKeySource(url, self.http_session) if url else None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.presence_manager.run()
        await self.broker.run()
        self.cluster.start()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self.timers.close()
        await self.cluster.close()
        await self.broker.close()
        await self.presence_manager.close()
        if self._http is not None:
            await self._http.close()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a background coroutine, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            name = getattr(task.get_coro(), "__qualname__", task.get_name())
            failures.failure(f"background task {name}", exc, key=(name, type(exc)))

    # -- session registry (P-97) ---------------------------------------------------------------

    def register(self, session: ClientSession) -> None:
        self.sessions[session.client_id] = session
        self.users.setdefault(session.user, set()).add(session.client_id)

    def unregister(self, session: ClientSession) -> None:
        self.sessions.pop(session.client_id, None)
        clients = self.users.get(session.user)
        if clients is not None:
            clients.discard(session.client_id)
            if not clients:
                del self.users[session.user]

    def user_connection_count(self, user: str) -> int:
        return len(self.users.get(user, ()))

    def sessions_of(self, user: str, client: str = "", session: str = "") -> list[ClientSession]:
        """Connections of ``user`` on this node, optionally only ``client`` (API-12..API-15)."""
        ids = self.users.get(user, ())
        found = [self.sessions[c] for c in ids if c in self.sessions]
        if client:
            found = [s for s in found if s.client_id == client]
        if session:
            found = [s for s in found if s.client_id == session]
        return found

    async def disconnect_user(self, user: str, code: int, reason: str, *, keep: list[str]) -> None:
        """Disconnect every connection of ``user`` on every node except the client ids in
        ``keep`` (the server API ``disconnect`` path, API-14; single connection, PR-06)."""
        await self.cluster.disconnect(Target(user), code, reason, keep)

    def num_users(self) -> int:
        return len(self.users)

    def num_subscriptions(self) -> int:
        return sum(len(s.subs) for s in self.sessions.values())

    # -- subscriptions -------------------------------------------------------------------------

    async def add_subscriber(self, sub: Subscriber) -> None:
        if self.hub.add(sub):
            try:
                await self.broker.subscribe(sub.channel)
            except BaseException:
                self.hub.remove(sub.channel, sub.session.client_id)
                raise

    async def remove_subscriber(self, channel: str, client_id: str) -> None:
        if self.hub.remove(channel, client_id):
            await self.broker.unsubscribe(channel)

    # -- publishing (P-33, API-10) ---------------------------------------------------------------

    async def publish(
        self,
        channel: str,
        data: bytes,
        opts: ChannelOptions,
        *,
        info: ClientInfo | None = None,
        tags: dict[str, str] | None = None,
        skip_history: bool = False,
        idempotency_key: str = "",
        delta: bool = False,
        version: int = 0,
        version_epoch: str = "",
    ) -> tuple[StreamPosition, bool]:
        popts = PublishOptions(
            0 if skip_history else opts.history_size,
            0.0 if skip_history else opts.history_ttl,
            opts.history_meta_ttl or self.config.channel.history_meta_ttl,
            info,
            tags,
            idempotency_key,
            use_delta=opts.delta_publish or delta,
            version=version,  # API-10 (server API addition)
            version_epoch=version_epoch,
        )
        return await self.broker.publish(channel, data, popts)

    # -- BrokerEventHandler --------------------------------------------------------------------

    def handle_publication(
        self,
        channel: str,
        pub: Publication,
        position: StreamPosition,
        use_delta: bool,
        prev_pub: Publication | None,
    ) -> None:
        self.hub.broadcast_publication(channel, pub, position, use_delta, prev_pub)

    def _handle_publication_lag_checked(
        self,
        channel: str,
        pub: Publication,
        position: StreamPosition,
        use_delta: bool,
        prev_pub: Publication | None,
    ) -> None:
        """``handle_publication`` with ``client.channel_position_max_time_lag`` on (HR-03)."""
        hub = self.hub
        lagged = hub.is_lagging(pub)
        hub.broadcast_publication(channel, pub, position, use_delta, prev_pub, lagged)

    def handle_join(self, channel: str, info: ClientInfo) -> None:
        self.hub.broadcast_join(channel, info)

    def handle_leave(self, channel: str, info: ClientInfo) -> None:
        self.hub.broadcast_leave(channel, info)

    def handle_pubsub_lost(self, channels: list[str]) -> None:
        """The broker lost PUB/SUB for ``channels``: what was published meanwhile may be
        missing, so every positioned subscriber checks its position now (HR-03, R-6)."""
        for channel in channels:
            for sub in self.hub.subscribers(channel):
                if sub.positioned:
                    self.spawn(sub.session.check_position(sub))

    def handle_control(self, data: bytes) -> None:
        self.cluster.handle_control(data)

    # -- shutdown (SV-02) ----------------------------------------------------------------------

    async def shutdown_clients(self, window: float = 1.0) -> None:
        """Disconnect every client with 3001 "shutdown", spread over ``window`` seconds."""
        self.shutting_down = True
        sessions = list(self.sessions.values())
        if not sessions:
            return
        batch = max(1, len(sessions) // 20)
        pause = window / max(1, (len(sessions) + batch - 1) // batch)
        for i in range(0, len(sessions), batch):
            for s in sessions[i : i + batch]:
                s.disconnect(3001)
            await asyncio.sleep(pause)
