"""Engine contracts: the Broker and the PresenceManager (spec §7, §8, §9 EN-01).

An engine is a Broker (PUB/SUB fan-out between nodes, history streams, idempotency) plus a
PresenceManager. Every implementation (memory, Redis, NATS) honours the guarantees
written here, and one contract test suite runs against each of them.

Broker guarantees
-----------------
* PUB/SUB delivery is at-most-once: a publication reaches the ``BrokerEventHandler`` of every
  node subscribed to the channel, or is lost; it is never delivered twice by the broker itself.
* This node's own publications reach its handler once each, in publish order per channel:
  before ``publish`` returns (memory, NATS, and Redis when this node is not subscribed to the
  channel), or, for a broker that fans out through a PUB/SUB server while this node is
  subscribed (Redis), when the server sends the message back, at most the broker's I/O
  timeout after ``publish`` returned (handed over locally then) — as Centrifugo does.
* History append and publish are atomic per channel: when history is on (``history_size > 0``
  and ``history_ttl > 0``), the publication is appended to the channel stream and receives the
  next offset (starting at 1) in the same step that hands it to PUB/SUB, so subscribers see
  offsets in increasing order without holes unless publications were lost (HR-01, HR-03).
* A stream is identified by ``(epoch, offset)``; a new epoch means the stream was lost or
  recreated (HR-01). Stream meta (epoch and top offset) lives for ``history_meta_ttl``.
* ``history`` answers HR-11/P-36: ``limit == 0`` gives only the position, ``limit < 0`` the whole
  stream, ``since`` pages forwards (offsets > since) or backwards when ``reverse``.

PresenceManager guarantees
--------------------------
* Entries are keyed by client id per channel; an entry expires unless touched within the
  manager's TTL (the memory manager keeps entries until removed) (PR-01).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)
class ClientInfo:
    """Who published or joined (P-49a). ``conn_info``/``chan_info`` are raw bytes (JSON text
    for JSON payloads) or ``None`` when absent."""

    user: str
    client: str
    conn_info: bytes | None = None
    chan_info: bytes | None = None


@dataclass(slots=True)
class StreamPosition:
    """A position in a channel stream (PF-24)."""

    offset: int = 0
    epoch: str = ""


@dataclass(slots=True)
class Publication:
    """One publication as the engines store and deliver it (P-42).

    ``data`` is the payload bytes exactly as published (raw JSON for JSON producers).
    ``offset`` is 0 when the channel keeps no history.
    """

    data: bytes
    info: ClientInfo | None = None
    offset: int = 0
    tags: dict[str, str] | None = None
    time: int = 0  # unix ms, 0 when unset


@dataclass(slots=True)
class PublishOptions:
    """How a publication is stored (API-10, CH-23..CH-25, HR-12, HR-09)."""

    history_size: int = 0
    history_ttl: float = 0.0  # seconds
    history_meta_ttl: float = 0.0  # seconds, 0 = engine default
    client_info: ClientInfo | None = None
    tags: dict[str, str] | None = None
    idempotency_key: str = ""
    idempotent_result_ttl: float = 300.0  # seconds
    use_delta: bool = False
    version: int = 0
    version_epoch: str = ""


@dataclass(slots=True)
class HistoryFilter:
    """What to read from a stream (P-36, HR-11).

    ``limit``: 0 = only the position, negative = no limit. ``since``: start after (or, with
    ``reverse``, before) this position; ``None`` = from the beginning (or the end if reverse).
    """

    limit: int = 0
    since: StreamPosition | None = None
    reverse: bool = False
    meta_ttl: float = 0.0  # seconds; refreshes the stream meta TTL on read, 0 = engine default


@dataclass(slots=True)
class HistoryResult:
    publications: list[Publication] = field(default_factory=list)
    position: StreamPosition = field(default_factory=StreamPosition)


@dataclass(slots=True)
class PresenceStats:
    num_clients: int = 0
    num_users: int = 0


class BrokerEventHandler(Protocol):
    """The node side of a broker: called for every message of a subscribed channel.

    Handlers are plain (non-async) callables so the fan-out path never awaits per message.
    """

    def handle_publication(
        self,
        channel: str,
        pub: Publication,
        position: StreamPosition,
        use_delta: bool,
        prev_pub: Publication | None,
    ) -> None: ...

    def handle_join(self, channel: str, info: ClientInfo) -> None: ...

    def handle_leave(self, channel: str, info: ClientInfo) -> None: ...

    def handle_control(self, data: bytes) -> None:
        """A control message from another node (EN-10)."""


class Broker(Protocol):
    """PUB/SUB + history + idempotency (EN-01). See the module docstring for guarantees."""

    def set_event_handler(self, handler: BrokerEventHandler) -> None: ...

    async def run(self) -> None:
        """Start background work (connections, cleanup timers)."""

    async def close(self) -> None: ...

    async def subscribe(self, channel: str) -> None:
        """Start receiving the channel's messages on this node."""

    async def unsubscribe(self, channel: str) -> None: ...

    async def publish(
        self, channel: str, data: bytes, opts: PublishOptions
    ) -> tuple[StreamPosition, bool]:
        """Publish (and append to history when ``opts`` says so).

        Returns the stream position of the new publication (``StreamPosition(0, "")`` without
        history) and ``suppressed``: True when an idempotency key or version made this a no-op
        that returned the earlier result.
        """

    async def publish_join(self, channel: str, info: ClientInfo) -> None: ...

    async def publish_leave(self, channel: str, info: ClientInfo) -> None: ...

    async def history(self, channel: str, flt: HistoryFilter) -> HistoryResult: ...

    async def publish_control(self, data: bytes) -> None:
        """Send a control message to every other node (EN-10); a no-op on a single node."""

    async def remove_history(self, channel: str) -> None: ...


class PresenceManager(Protocol):
    """Online presence per channel (PR-01, PR-02)."""

    async def run(self) -> None:
        """Check that the configuration can be honoured before serving (EN-03); raises
        ``EngineError`` when it cannot."""

    async def add_presence(self, channel: str, client_id: str, info: ClientInfo) -> None: ...

    async def remove_presence(self, channel: str, client_id: str, user: str) -> None: ...

    async def presence(self, channel: str) -> dict[str, ClientInfo]: ...

    async def presence_stats(self, channel: str) -> PresenceStats: ...

    async def close(self) -> None: ...


class EngineError(Exception):
    """An engine operation failed. ``code`` is the client/API error to answer with: 100
    internal by default; engines raise subclasses with 108 (not available) or 107."""

    code = 100


class UnrecoverablePositionError(EngineError):
    """``since.epoch`` does not match the current stream epoch (error 112, P-36).

    ``position`` is the current stream top when the engine knows it (HR-05 replies with it).
    """

    def __init__(
        self, message: str = "unrecoverable position", position: StreamPosition | None = None
    ) -> None:
        super().__init__(message)
        self.position = position
