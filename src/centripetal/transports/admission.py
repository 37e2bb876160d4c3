"""Who may open a connection now (spec TR-13), shared by every connection endpoint.

``client.connection_limit`` counts the connected sessions of the node (as Centrifugo counts
its hub's clients); ``client.connection_rate_limit`` counts new connections per second over
all endpoints together; a node that is shutting down admits nobody.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from centripetal.node import Node

__all__ = ["Admission"]


class Admission:
    """TR-13: one per node, asked once per new connection."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.limit = node.config.client.connection_limit
        self.rate = node.config.client.connection_rate_limit
        self._second = 0
        self._count = 0

    def admit(self) -> bool:
        if self.node.shutting_down:
            return False
        if self.limit and len(self.node.sessions) >= self.limit:
            return False
        if self.rate:
            second = int(asyncio.get_running_loop().time())
            if second != self._second:
                self._second, self._count = second, 0
            if self._count >= self.rate:
                return False
            self._count += 1
        return True
