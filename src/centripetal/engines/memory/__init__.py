"""The memory engine: broker and presence manager for a single node (EN-02)."""

from __future__ import annotations

from centripetal.engines.memory.broker import MemoryBroker, MemoryBrokerStats, new_epoch
from centripetal.engines.memory.presence import MemoryPresenceManager

__all__ = ["MemoryBroker", "MemoryBrokerStats", "MemoryPresenceManager", "new_epoch"]
