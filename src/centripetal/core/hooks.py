"""What the session expects from the application-backend hooks (proxies, spec §4).

The node holds one optional async callable per event (``node.connect_proxy`` ...). A hook
returns one of the result objects below, or raises ``CommandError`` (the backend's ``error``,
or 100 temporary on transport failure, PX-07, R-11) or ``DisconnectRequest`` (the backend's
``disconnect``). Hooks never admit anything on failure: fail closed.

Payload fields are raw bytes (JSON text for JSON payloads), ``None`` when absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from centripetal.config.schema import ChannelOptions, Override
    from centripetal.core.session import ClientSession
    from centripetal.hub import Subscriber
    from centripetal.protocol import messages


@dataclass(slots=True)
class SubscribeOptions:
    """Per-channel options of a server-side subscription (token ``subs`` claim, connect proxy
    ``subs``; AU-02, PX-10)."""

    info: bytes | None = None
    data: bytes | None = None
    expire_at: int = 0
    override: Override | None = None
    cache_recover: bool = False  # PX-10 connect proxy only: cache recovery on subscribe (HR-08)


@dataclass(slots=True)
class ConnectResult:
    """PX-10: credentials and server-side subscriptions from the connect proxy."""

    user: str = ""
    expire_at: int = 0
    info: bytes | None = None
    data: bytes | None = None
    meta: bytes | None = None
    subs: dict[str, SubscribeOptions | None] = field(default_factory=dict)


@dataclass(slots=True)
class RefreshResult:
    """PX-11: ``expired`` closes with 3005; otherwise new expiry/info/meta."""

    expired: bool = False
    expire_at: int = 0
    info: bytes | None = None
    meta: bytes | None = None


@dataclass(slots=True)
class SubscribeResult:
    """PX-12."""

    info: bytes | None = None
    data: bytes | None = None
    expire_at: int = 0
    override: Override | None = None


@dataclass(slots=True)
class PublishResult:
    """PX-13: ``data`` replaces the payload when not None."""

    data: bytes | None = None
    skip_history: bool = False
    tags: dict[str, str] | None = None
    idempotency_key: str = ""
    delta: bool = False


@dataclass(slots=True)
class SubRefreshResult:
    """PX-14."""

    expired: bool = False
    expire_at: int = 0
    info: bytes | None = None


class ConnectHook(Protocol):
    async def __call__(
        self, session: ClientSession, req: messages.ConnectRequest
    ) -> ConnectResult: ...


class RefreshHook(Protocol):
    async def __call__(self, session: ClientSession) -> RefreshResult: ...


class SubscribeHook(Protocol):
    async def __call__(
        self,
        session: ClientSession,
        channel: str,
        opts: ChannelOptions,
        req: messages.SubscribeRequest,
    ) -> SubscribeResult: ...


class PublishHook(Protocol):
    async def __call__(
        self,
        session: ClientSession,
        channel: str,
        opts: ChannelOptions,
        req: messages.PublishRequest,
    ) -> PublishResult: ...


class SubRefreshHook(Protocol):
    async def __call__(self, session: ClientSession, sub: Subscriber) -> SubRefreshResult: ...


class RPCHook(Protocol):
    async def __call__(self, session: ClientSession, req: messages.RPCRequest) -> bytes: ...


Hook = Any
