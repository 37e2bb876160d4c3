"""Client protocol codes as data: errors (§1.6), unsubscribe codes (§1.7), disconnects (§1.8).

The session raises :class:`ProtocolError` to answer a command with ``Reply.error`` and
:class:`DisconnectError` to close the connection. Reconnect advice is derived from code ranges
(§1.8): reconnect for 3000-3499, 4000-4499 and >= 5000; terminal for 3500-3999 and 4500-4999.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """A client error (E-100..E-113, E-APP): ``{"code", "message", "temporary"}`` in a Reply."""

    code: int
    message: str
    temporary: bool = False


@dataclass(frozen=True, slots=True)
class Disconnect:
    """A disconnect code and reason (D-3000..D-3509, D-CUSTOM)."""

    code: int
    reason: str

    @property
    def reconnect(self) -> bool:
        """Whether SDKs reconnect after this code (§1.8 ranges)."""
        return should_reconnect(self.code)


@dataclass(frozen=True, slots=True)
class UnsubscribeCode:
    """A server unsubscribe (U-2000..U-2502); ``resubscribe`` when code >= 2500 (U-RANGE)."""

    code: int
    reason: str

    @property
    def resubscribe(self) -> bool:
        return self.code >= 2500


# -- errors (§1.6) --------------------------------------------------------------------------

ERROR_INTERNAL = ErrorCode(100, "internal server error", True)  # E-100
ERROR_UNAUTHORIZED = ErrorCode(101, "unauthorized")  # E-101
ERROR_UNKNOWN_CHANNEL = ErrorCode(102, "unknown channel")  # E-102
ERROR_PERMISSION_DENIED = ErrorCode(103, "permission denied")  # E-103
ERROR_METHOD_NOT_FOUND = ErrorCode(104, "method not found")  # E-104
ERROR_ALREADY_SUBSCRIBED = ErrorCode(105, "already subscribed")  # E-105
ERROR_LIMIT_EXCEEDED = ErrorCode(106, "limit exceeded")  # E-106
ERROR_BAD_REQUEST = ErrorCode(107, "bad request")  # E-107
ERROR_NOT_AVAILABLE = ErrorCode(108, "not available")  # E-108
ERROR_TOKEN_EXPIRED = ErrorCode(109, "token expired")  # E-109
ERROR_EXPIRED = ErrorCode(110, "expired")  # E-110
ERROR_TOO_MANY_REQUESTS = ErrorCode(111, "too many requests", True)  # E-111
ERROR_UNRECOVERABLE_POSITION = ErrorCode(112, "unrecoverable position")  # E-112
ERROR_CONCURRENT_PAGINATION = ErrorCode(113, "concurrent pagination", True)  # E-113

ERRORS: dict[int, ErrorCode] = {
    e.code: e
    for e in (
        ERROR_INTERNAL,
        ERROR_UNAUTHORIZED,
        ERROR_UNKNOWN_CHANNEL,
        ERROR_PERMISSION_DENIED,
        ERROR_METHOD_NOT_FOUND,
        ERROR_ALREADY_SUBSCRIBED,
        ERROR_LIMIT_EXCEEDED,
        ERROR_BAD_REQUEST,
        ERROR_NOT_AVAILABLE,
        ERROR_TOKEN_EXPIRED,
        ERROR_EXPIRED,
        ERROR_TOO_MANY_REQUESTS,
        ERROR_UNRECOVERABLE_POSITION,
        ERROR_CONCURRENT_PAGINATION,
    )
}

# -- unsubscribe codes (§1.7) -----------------------------------------------------------------

UNSUBSCRIBE_SERVER = UnsubscribeCode(2000, "server unsubscribe")  # U-2000
UNSUBSCRIBE_INSUFFICIENT_STATE = UnsubscribeCode(2500, "insufficient state")  # U-2500
UNSUBSCRIBE_EXPIRED = UnsubscribeCode(2501, "subscription expired")  # U-2501
UNSUBSCRIBE_STATE_INVALIDATED = UnsubscribeCode(2502, "state invalidated")  # U-2502

UNSUBSCRIBES: dict[int, UnsubscribeCode] = {
    u.code: u
    for u in (
        UNSUBSCRIBE_SERVER,
        UNSUBSCRIBE_INSUFFICIENT_STATE,
        UNSUBSCRIBE_EXPIRED,
        UNSUBSCRIBE_STATE_INVALIDATED,
    )
}

# -- disconnect codes (§1.8) ------------------------------------------------------------------

DISCONNECT_CONNECTION_CLOSED = Disconnect(3000, "connection closed")  # D-3000
DISCONNECT_SHUTDOWN = Disconnect(3001, "shutdown")  # D-3001
DISCONNECT_SERVER_ERROR = Disconnect(3004, "internal server error")  # D-3004
DISCONNECT_EXPIRED = Disconnect(3005, "connection expired")  # D-3005
DISCONNECT_SUB_EXPIRED = Disconnect(3006, "subscription expired")  # D-3006
DISCONNECT_SLOW = Disconnect(3008, "slow")  # D-3008
DISCONNECT_WRITE_ERROR = Disconnect(3009, "write error")  # D-3009
DISCONNECT_INSUFFICIENT_STATE = Disconnect(3010, "insufficient state")  # D-3010
DISCONNECT_FORCE_RECONNECT = Disconnect(3011, "force reconnect")  # D-3011
DISCONNECT_NO_PONG = Disconnect(3012, "no pong")  # D-3012
DISCONNECT_TOO_MANY_REQUESTS = Disconnect(3013, "too many requests")  # D-3013
DISCONNECT_STATE_INVALIDATED = Disconnect(3014, "state invalidated")  # D-3014
DISCONNECT_INVALID_TOKEN = Disconnect(3500, "invalid token")  # D-3500
DISCONNECT_BAD_REQUEST = Disconnect(3501, "bad request")  # D-3501
DISCONNECT_STALE = Disconnect(3502, "stale")  # D-3502
DISCONNECT_FORCE_NO_RECONNECT = Disconnect(3503, "force disconnect")  # D-3503
DISCONNECT_CONNECTION_LIMIT = Disconnect(3504, "connection limit")  # D-3504
DISCONNECT_CHANNEL_LIMIT = Disconnect(3505, "channel limit")  # D-3505
DISCONNECT_INAPPROPRIATE_PROTOCOL = Disconnect(3506, "inappropriate protocol")  # D-3506
DISCONNECT_PERMISSION_DENIED = Disconnect(3507, "permission denied")  # D-3507
DISCONNECT_NOT_AVAILABLE = Disconnect(3508, "not available")  # D-3508
DISCONNECT_TOO_MANY_ERRORS = Disconnect(3509, "too many errors")  # D-3509

DISCONNECTS: dict[int, Disconnect] = {
    d.code: d
    for d in (
        DISCONNECT_CONNECTION_CLOSED,
        DISCONNECT_SHUTDOWN,
        DISCONNECT_SERVER_ERROR,
        DISCONNECT_EXPIRED,
        DISCONNECT_SUB_EXPIRED,
        DISCONNECT_SLOW,
        DISCONNECT_WRITE_ERROR,
        DISCONNECT_INSUFFICIENT_STATE,
        DISCONNECT_FORCE_RECONNECT,
        DISCONNECT_NO_PONG,
        DISCONNECT_TOO_MANY_REQUESTS,
        DISCONNECT_STATE_INVALIDATED,
        DISCONNECT_INVALID_TOKEN,
        DISCONNECT_BAD_REQUEST,
        DISCONNECT_STALE,
        DISCONNECT_FORCE_NO_RECONNECT,
        DISCONNECT_CONNECTION_LIMIT,
        DISCONNECT_CHANNEL_LIMIT,
        DISCONNECT_INAPPROPRIATE_PROTOCOL,
        DISCONNECT_PERMISSION_DENIED,
        DISCONNECT_NOT_AVAILABLE,
        DISCONNECT_TOO_MANY_ERRORS,
    )
}

MAX_REASON_BYTES = 123  # WebSocket close reason limit (125 minus the 2-byte code), §1.8


def should_reconnect(code: int) -> bool:
    """§1.8: reconnect for 3000-3499, 4000-4499, >= 5000 and for 0-2999 (transport range)."""
    return not (3500 <= code < 4000 or 4500 <= code < 5000)


def error_info(code: int) -> ErrorCode:
    """The standard message and ``temporary`` flag of an error code; unknown codes (E-APP)
    get an empty message and ``temporary=False``."""
    return ERRORS.get(code) or ErrorCode(code, "")


def disconnect_reason(code: int) -> str:
    """The standard reason string of a disconnect code ("" for application codes)."""
    d = DISCONNECTS.get(code)
    return d.reason if d is not None else ""


def unsubscribe_reason(code: int) -> str:
    """The standard reason string of an unsubscribe code ("" for unknown codes)."""
    u = UNSUBSCRIBES.get(code)
    return u.reason if u is not None else ""


class ProtocolError(Exception):
    """Answer the current command with ``Reply.error`` (§1.6)."""

    def __init__(self, error: ErrorCode) -> None:
        super().__init__(error.code, error.message)
        self.error = error


class DisconnectError(Exception):
    """Close the connection with a disconnect code and reason (§1.8)."""

    def __init__(self, disconnect: Disconnect) -> None:
        super().__init__(disconnect.code, disconnect.reason)
        self.disconnect = disconnect


class DecodeError(DisconnectError):
    """An inbound frame could not be decoded: the connection closes with 3501 (P-13)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(DISCONNECT_BAD_REQUEST)
        self.detail = detail

    def __str__(self) -> str:
        return f"bad request: {self.detail}" if self.detail else "bad request"
