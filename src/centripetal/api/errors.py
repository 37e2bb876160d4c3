"""Server API errors (spec §3: API-06, API-07).

The server API has its own message table: 104 reads ``not found`` (the client protocol says
``method not found``). In transport error mode (API-06) an error becomes an HTTP status.
"""

from __future__ import annotations

__all__ = ["MESSAGES", "ApiError", "transport_status"]

MESSAGES: dict[int, str] = {
    100: "internal server error",
    102: "unknown channel",
    104: "not found",
    107: "bad request",
    108: "not available",
    112: "unrecoverable position",
    113: "conflict",
}

_STATUS: dict[int, int] = {100: 500, 102: 404, 104: 404, 107: 400, 108: 400, 112: 416, 113: 409}


class ApiError(Exception):
    """A method answers ``{"error": {"code", "message"}}`` (API-02, API-07)."""

    def __init__(self, code: int, message: str = "") -> None:
        self.code = code
        self.message = message or MESSAGES.get(code, "internal server error")
        super().__init__(code, self.message)


def transport_status(code: int) -> int:
    """HTTP status of an API error in transport error mode (API-06); 500 for other codes."""
    return _STATUS.get(code, 500)
