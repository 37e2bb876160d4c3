"""The memory presence manager: who is online in a channel, in process memory (PR-01, PR-02).

Entries are keyed by client id per channel and stay until removed: a single node removes them
itself on unsubscribe/disconnect, so no TTL is needed (PR-01). A channel's key is dropped when
its last entry leaves, so the table never outgrows the live subscriptions (DESIGN §5).
"""

from __future__ import annotations

from centripetal.engines.base import ClientInfo, PresenceStats

__all__ = ["MemoryPresenceManager"]


class MemoryPresenceManager:
    """``base.PresenceManager`` for a single node (EN-02)."""

    def __init__(self) -> None:
        self._channels: dict[str, dict[str, ClientInfo]] = {}

    async def run(self) -> None:
        """Nothing to connect or check."""

    async def add_presence(self, channel: str, client_id: str, info: ClientInfo) -> None:
        """Add or refresh the entry of ``client_id`` (PR-01)."""
        self._channels.setdefault(channel, {})[client_id] = info

    async def remove_presence(self, channel: str, client_id: str, user: str) -> None:
        """Remove the entry of ``client_id``; the channel key goes with its last entry."""
        entries = self._channels.get(channel)
        if entries is None:
            return
        entries.pop(client_id, None)
        if not entries:
            del self._channels[channel]

    async def presence(self, channel: str) -> dict[str, ClientInfo]:
        """PR-02: client id -> ClientInfo (a copy; mutating it changes nothing here)."""
        return dict(self._channels.get(channel, {}))

    async def presence_stats(self, channel: str) -> PresenceStats:
        """PR-02: clients and distinct users; all anonymous clients count as one user ``""``."""
        entries = self._channels.get(channel)
        if not entries:
            return PresenceStats()
        users = {info.user for info in entries.values()}
        return PresenceStats(num_clients=len(entries), num_users=len(users))

    def num_channels(self) -> int:
        """How many channels have at least one entry (for tests and metrics)."""
        return len(self._channels)

    async def close(self) -> None:
        self._channels.clear()
