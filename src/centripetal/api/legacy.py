"""The legacy server API body: ``POST /api`` with newline-delimited commands (API-03).

Each line is ``{"id"?: n, "method": "publish" | 0, "params": {...}}``; ``method`` is the
case-insensitive name or the legacy enum number. Replies are newline-delimited
``{"id"?, "result"|"error"}`` in the same order. The HTTP side (empty body 400, shutdown 503)
lives in ``api.http``.

A line that does not decode as a command (malformed JSON, ``id`` outside uint32, ``method``
neither a string nor an int32, nesting too deep) makes the whole request HTTP 400; params
that do not decode for their method answer that command with error 107, and an internal
failure of one command answers it with error 100 - as Centrifugo's ``handler_legacy.go``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from centripetal.api import messages as m
from centripetal.api.errors import ApiError
from centripetal.api.executor import METHODS
from centripetal.observability.logs import failure_log

if TYPE_CHECKING:
    from centripetal.api.executor import Executor

__all__ = ["LEGACY_METHODS", "LegacyDecodeError", "run_legacy"]

LEGACY_METHODS: dict[int, str] = {
    0: "publish",
    1: "broadcast",
    2: "unsubscribe",
    3: "disconnect",
    4: "presence",
    5: "presence_stats",
    6: "history",
    7: "history_remove",
    8: "channels",
    9: "info",
    10: "rpc",
    11: "subscribe",
    12: "refresh",
}
"""Legacy ``MethodType`` enum values routed in OSS (API-03); other numbers answer 104."""

# every name of Centrifugo v6's legacy MethodType enum (PRO and map methods included): a
# method given as a string outside it does not decode, and the whole request is HTTP 400;
# a name inside it that OSS does not route answers 104 like an unknown number (API-03)
LEGACY_METHOD_NAMES = frozenset(
    [
        "publish",
        "broadcast",
        "unsubscribe",
        "disconnect",
        "presence",
        "presence_stats",
        "history",
        "history_remove",
        "channels",
        "info",
        "rpc",
        "subscribe",
        "refresh",
        "connections",
        "update_user_status",
        "get_user_status",
        "delete_user_status",
        "block_user",
        "unblock_user",
        "revoke_token",
        "invalidate_user_tokens",
        "device_register",
        "device_update",
        "device_remove",
        "device_list",
        "device_topic_list",
        "device_topic_update",
        "user_topic_list",
        "user_topic_update",
        "send_push_notification",
        "update_push_status",
        "cancel_push",
        "map_publish",
        "map_remove",
        "map_read_state",
        "map_read_stream",
        "map_stats",
        "map_clear",
        "shared_poll_publish",
    ]
)

_decoder = msgspec.json.Decoder(m.LegacyCommand)
_encoder = msgspec.json.Encoder()
failures = failure_log("centripetal.api")


class LegacyDecodeError(ValueError):
    """A line is not a JSON command object: the whole request is HTTP 400."""


def parse_commands(body: bytes) -> list[m.LegacyCommand]:
    """Split and decode the body; blank lines are skipped."""
    commands: list[m.LegacyCommand] = []
    for line in body.split(b"\n"):
        if not line.strip():
            continue
        try:
            command = _decoder.decode(line)
        except Exception as exc:  # msgspec errors, RecursionError on deep nesting
            raise LegacyDecodeError(str(exc) or type(exc).__name__) from None
        if isinstance(command.method, str) and command.method.lower() not in LEGACY_METHOD_NAMES:
            raise LegacyDecodeError(f"unknown method name {command.method!r}")
        commands.append(command)
    return commands


def method_name(method: str | int) -> str | None:
    """The method a legacy command names, or None (104)."""
    if isinstance(method, int):
        return LEGACY_METHODS.get(method)
    name = method.lower()
    return name if name in METHODS and name != "batch" else None


async def run_command(executor: Executor, cmd: m.LegacyCommand) -> dict[str, Any]:
    reply: dict[str, Any] = {"id": cmd.id} if cmd.id else {}
    name = method_name(cmd.method)
    try:
        if name is None:
            raise ApiError(104)
        params = bytes(cmd.params) if name != "info" else b"{}"
        reply["result"] = await METHODS[name].call(executor, params or b"null")
    except ApiError as exc:
        reply["error"] = m.ErrorOut(exc.code, exc.message)
    except Exception as exc:  # an internal failure of this command: error 100
        failures.failure(f"legacy server API {name}", exc, key=("legacy", name, type(exc)))
        reply["error"] = m.ErrorOut(100, "internal server error")
    return reply


async def run_legacy(executor: Executor, body: bytes) -> bytes:
    """Run every command of ``body`` in order; the newline-delimited reply body.

    Raises ``LegacyDecodeError`` when a line is not a command object.
    """
    commands = parse_commands(body)
    replies = [_encoder.encode(await run_command(executor, cmd)) for cmd in commands]
    return b"\n".join(replies)
