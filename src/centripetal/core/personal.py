"""Single-connection mode of the personal channel (SV-14, PR-06, D-3504).

With ``client.subscribe_to_user_personal_channel.single_connection`` a user keeps one
connection: once a new connection of the user is subscribed to its personal channel (and so
present in it), the presence of that channel is counted; two or more clients mean older
connections exist somewhere in the cluster, and every connection of the user except the new
one is disconnected with 3504 "connection limit" through the cluster control channel, so the
rule holds across nodes sharing an engine. An engine failure on the way closes the new
connection with 3004 rather than letting it run without the guarantee.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from centripetal.engines.base import EngineError
from centripetal.observability.logs import failure_log
from centripetal.protocol import codes

if TYPE_CHECKING:
    from centripetal.node import Node

failures = failure_log("centripetal.client")


class _Session(Protocol):
    node: Node
    user: str
    client_id: str

    def disconnect(self, code: int, reason: str = "") -> None: ...


def single_connection_channel(node: Node, user: str) -> str | None:
    """The personal channel to count, or None when single-connection mode is off for ``user``."""
    personal = node.config.client.subscribe_to_user_personal_channel
    if not (personal.enabled and personal.single_connection and user):
        return None
    return node.rules.personal_channel(user, personal.personal_channel_namespace)


async def enforce_single_connection(session: _Session) -> None:
    """PR-06: after connect, disconnect the user's other connections on every node (3504)."""
    node = session.node
    channel = single_connection_channel(node, session.user)
    if channel is None:
        return
    limit = codes.DISCONNECT_CONNECTION_LIMIT
    try:
        stats = await node.presence_manager.presence_stats(channel)
        if stats.num_clients >= 2:
            await node.disconnect_user(
                session.user, limit.code, limit.reason, keep=[session.client_id]
            )
    except EngineError as exc:
        failures.failure(
            f"single connection check of user {session.user!r}",
            exc,
            key=("single_connection", str(exc)),
            level=logging.WARNING,
        )
        session.disconnect(codes.DISCONNECT_SERVER_ERROR.code)
