"""Exceptions a command handler raises to answer with an error or to close the connection.

``CommandError`` becomes ``Reply.error`` (spec §1.6 codes); ``DisconnectRequest`` closes the
connection with a §1.8 code. Both carry plain integers; messages and reasons come from the
code tables in ``protocol.codes``.
"""

from __future__ import annotations


class CommandError(Exception):
    """Answer the command with ``{"error": {"code": code, ...}}`` (E-100..E-113, E-APP)."""

    def __init__(self, code: int, message: str = "", temporary: bool | None = None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.temporary = temporary


class DisconnectRequest(Exception):
    """Close the connection with a disconnect code (D-3000..D-3509, D-CUSTOM)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
