"""The front protocol of one connection: parse, hold the budget, route (spec SV-01, TR-01).

See the package docstring for the theory of operation. This module parses with httptools and
enforces the request budget of limits.py; answering API calls is api.py's job.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import httptools

from centripetal.front.api import ApiPipeline, ApiRequest
from centripetal.limits import Refusal, plain_response, status_text
from centripetal.observability.logs import failure_log
from centripetal.transports.handshake import UpgradeRequest, rejection_response, upgrade_refusal

if TYPE_CHECKING:
    from centripetal.front.server import FrontContext, Upgrader

__all__ = ["FrontProtocol"]

logger = logging.getLogger("centripetal.front")
failures = failure_log(logger.name)  # one line per refused request, repeats counted

LINGER = 1.0  # seconds a refused connection is drained before it closes
DRAIN_LIMIT = 4 << 20  # bytes drained at most; past them the connection is reset
IDLE, HEAD, BODY = 0, 1, 2  # where the parser stands in the current request
_WANTED = {b"x-api-key", b"authorization", b"x-centrifugo-error-mode", b"connection", b"expect"}


class _HandOff(Exception):
    """Raised from a parser callback: aiohttp serves this request."""


class FrontProtocol(asyncio.Protocol):
    """One accepted connection; see the module docstring."""

    def __init__(self, front: FrontContext) -> None:
        self._front = front
        self._limits = front.limits
        self._routes = front.routes
        self._upgrade: tuple[Upgrader, UpgradeRequest] | None = None
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        # bytes of the current request, replayed to aiohttp on hand-off; None when the request
        # did not start at the beginning of a read (then it cannot be handed off)
        self._raw: list[bytes] | None = []
        self._chunk = b""
        self._mid_chunk = False  # a request ended inside the read being parsed
        self._req: ApiRequest | None = None
        self._api: ApiPipeline | None = None  # front mode: this connection's API answers
        self._handing_off = False
        self._closing = False
        # the budget of the request being read (limits.py)
        self._phase = IDLE
        self._requests = 0
        self._started = 0.0  # the accept (first request) or the request's first byte
        self._head_bytes = 0  # bytes received while reading a head, in whole reads
        self._head_size = 0  # request line and header bytes, counted exactly
        self._headers = 0
        self._hosts = 0
        self._content_length = -1
        self._body_bytes = 0
        self.deadline = 0.0  # loop time when ``expire`` runs; 0 = none
        self._deadline_kind = IDLE
        self._refusal: Refusal | None = None
        self._relay: asyncio.Protocol | None = None  # aiohttp's protocol (relay mode)
        self._passthrough = False  # aiohttp upgraded the connection: bytes are not HTTP
        self._draining = -1  # bytes discarded after a refusal; -1: not draining

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self._started = asyncio.get_running_loop().time()
        self._set_deadline(self._limits.read_header_timeout, HEAD)
        self._front.track(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._front.untrack(self)
        self._closing = True
        if self._api is not None:
            self._api.cancel()
        if self._relay is not None:
            self._relay.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._relay is not None:
            self._relay.pause_writing()
        elif self._api is not None:
            self._api.pause_writing()

    def resume_writing(self) -> None:
        if self._relay is not None:
            self._relay.resume_writing()
        elif self._api is not None:
            self._api.resume_writing()

    def eof_received(self) -> bool | None:
        if self._relay is not None and self._draining < 0:
            return self._relay.eof_received()
        return None  # the transport closes itself

    def data_received(self, data: bytes) -> None:
        if self._draining >= 0:
            self._drain(len(data))
            return
        relay = self._relay
        if self._passthrough:
            assert relay is not None
            relay.data_received(data)
            return
        if self._phase != BODY:
            self._head_bytes += len(data)
            if self._phase == IDLE and self._requests:
                self._begin_head()  # the first byte of a later request
        self._chunk = data
        self._mid_chunk = False
        if self._raw is not None:
            self._raw.append(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            if relay is not None:
                self._passthrough = True  # aiohttp answers the upgrade and owns the bytes
                self.deadline = 0.0
            elif self._upgrade is not None:
                self._upgrade_to(self._upgrade, data[exc.args[0] :])
                return
            else:  # an upgrade of a path aiohttp serves: hand it over
                self._hand_off()
                return
        except (httptools.HttpParserError, _HandOff):
            # httptools wraps exceptions raised by callbacks (HttpParserCallbackError)
            if self._refusal is not None:
                self.refuse(self._refusal)
            elif self._handing_off:
                self._hand_off()
            else:
                self.refuse(Refusal(400))
            return
        if self._phase != BODY and self._head_bytes > self._limits.head_bytes_cap:
            self.refuse(Refusal(431))  # a head that never ends (the parser keeps it whole)
            return
        if relay is not None:
            relay.data_received(data)

    @property
    def relayed(self) -> bool:
        """aiohttp serves this connection (relay mode)."""
        return self._relay is not None

    def close(self) -> None:
        if self._transport is not None and not self._closing:
            self._closing = True
            self._transport.close()

    # -- the budget (limits.py) ----------------------------------------------------------------

    def _set_deadline(self, timeout: float, kind: int) -> None:
        if timeout > 0:
            self.deadline = asyncio.get_running_loop().time() + timeout
            self._deadline_kind = kind
        else:
            self.deadline = 0.0

    def _begin_head(self) -> None:
        """A later request began: its head has ``read_header_timeout`` from its first byte."""
        self._phase = HEAD
        self._started = asyncio.get_running_loop().time()
        limit = self._limits.read_header_timeout
        self.deadline = self._started + limit if limit > 0 else 0.0
        self._deadline_kind = HEAD

    def expire(self) -> None:
        """The sweep found this connection past its deadline (limits.py)."""
        self.deadline = 0.0
        if self._closing:
            return
        if self._deadline_kind == BODY:
            self.refuse(Refusal(408))
        else:  # head or idle: Go closes without an answer on a read timeout
            logger.debug("closing a connection: %s timeout", "head" if self._phase else "idle")
            self._discard_relay()
            self.close()

    def _check_head(self) -> None:
        """Go's rules for a complete head: size, protocol version, Host (limits.py)."""
        if self._head_size > self._limits.max_header_bytes:
            raise Refusal(431)
        version = self._parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise Refusal(505, "unsupported protocol version")
        if self._hosts > 1:
            raise Refusal(400, "too many Host headers")
        if self._hosts == 0 and version == "1.1":
            raise Refusal(400, "missing required Host header")
        if self._content_length > self._limits.max_body:
            raise Refusal(413)

    def refuse(self, refusal: Refusal) -> None:
        """Answer a refused request, then drain and close (module docstring)."""
        self._refusal = None
        transport = self._transport
        if transport is None or self._closing or transport.is_closing():
            self._discard_relay()
            return
        peer = transport.get_extra_info("peername")
        where = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "a client"
        failures.failure(
            f"request from {where}",
            f"refused with {refusal.status} {status_text(refusal.status, refusal.detail)}",
            key=("refused", refusal.status, refusal.detail),
            level=logging.INFO,
        )
        self._closing = True
        self.deadline = 0.0
        if self._api is not None:
            self._api.cancel()  # reading goes on: the connection is drained
        transport.write(
            refusal.payload or plain_response(refusal.status, refusal.detail, body=refusal.body)
        )
        self._discard_relay()
        self._draining = 0
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER, transport.close)

    def _drain(self, size: int) -> None:
        self._draining += size
        if self._draining > DRAIN_LIMIT and self._transport is not None:
            self._transport.abort()

    def _discard_relay(self) -> None:
        """Stop feeding aiohttp: it sees the connection end."""
        relay = self._relay
        if relay is not None:
            self._relay = None
            self._passthrough = False
            relay.connection_lost(None)

    # -- hand-off to aiohttp -------------------------------------------------------------------

    def _hand_off(self) -> None:
        """Relay mode from now on: aiohttp serves, this protocol keeps the budget."""
        transport = self._transport
        raw = self._raw
        if transport is None or raw is None:  # mid-life upgrade attempt on an API connection
            self.refuse(Refusal(400))
            return
        self._raw = None
        self._handing_off = False
        self._requests -= 1  # counted again by the parse below
        proto = self._front.fallback()
        proto.connection_made(transport)
        self._relay = proto
        # parse the handed-off request again from its first byte, for the budget only
        self._parser = httptools.HttpRequestParser(self)
        self._phase = IDLE
        self._head_bytes = 0
        self.data_received(b"".join(raw))

    def _upgrade_to(self, target: tuple[Upgrader, UpgradeRequest], rest: bytes) -> None:
        transport = self._transport
        self._upgrade = None
        self._raw = None
        self.deadline = 0.0
        self._front.untrack(self)
        if transport is not None and not transport.is_closing():
            endpoint, request = target
            endpoint.upgrade(transport, request, rest)

    # -- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._phase = HEAD
        self._head_size = 16  # method, spaces, version, CRLF: about
        self._headers = self._hosts = self._body_bytes = 0
        self._content_length = -1
        if self._relay is not None:
            return
        self._req = ApiRequest()
        if self._api is not None:  # a later request can be handed off only if it starts a read
            self._raw = None if self._mid_chunk else [self._chunk]

    def on_url(self, url: bytes) -> None:
        self._head_size += len(url)
        if self._head_size > self._limits.max_header_bytes:
            self._stop(Refusal(431))
        if self._req is not None and self._relay is None:
            self._req.path += url.decode("latin-1")  # the whole target; split at the end

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        self._headers += 1
        limits = self._limits
        if self._head_size > limits.max_header_bytes or (
            limits.max_header_count and self._headers > limits.max_header_count
        ):
            self._stop(Refusal(431))
        lname = name.lower()
        if lname == b"host":
            self._hosts += 1
        elif lname == b"content-length":
            self._content_length = int(value) if value.strip().isdigit() else -1
        if self._relay is not None:
            return
        req = self._req
        assert req is not None
        req.all_headers.append((name, value))
        if lname in _WANTED:
            req.headers[lname] = value

    def _stop(self, refusal: Refusal) -> None:
        """Stop the parser from a callback; ``data_received`` answers ``refusal``."""
        self._refusal = refusal
        raise refusal

    def on_headers_complete(self) -> None:
        try:
            self._check_head()
        except Refusal as refusal:
            self._stop(refusal)
        self._phase = BODY
        self._head_bytes = 0
        self._requests += 1
        limit = self._limits.read_timeout
        if limit > 0:
            self.deadline = self._started + limit
            self._deadline_kind = BODY
        else:
            self.deadline = 0.0
        if self._relay is None:
            self._route()

    def _route(self) -> None:
        """Where the request goes: answered here, upgraded, or handed to aiohttp."""
        req = self._req
        assert req is not None
        parser = self._parser
        req.method = parser.get_method()
        req.keep_alive = parser.should_keep_alive()
        url = httptools.parse_url(req.path.encode("latin-1"))
        path = url.path.decode("latin-1")
        query = url.query
        req.path = path
        handler = self._routes.get(path)
        if req.method != b"POST" or handler is None:
            # not an API call: another endpoint takes the connection, if it can (see _idle)
            endpoint = self._front.upgrades.get(path)
            if endpoint is not None:
                self._check_upgrade(req, parser.get_http_version())
                if self._idle():
                    self._start_upgrade(endpoint, path, query, req)
                    return
            if self._raw is not None and self._idle():
                self._handing_off = True
                raise _HandOff
            if self._api is None:  # cannot happen: a first request is always replayable
                self._handing_off = True
                raise _HandOff
        elif self._api is None and self._transport is not None:
            front = self._front
            self._api = ApiPipeline(self, self._transport, front.routes, front.eager, front.limits)
        self._raw = None
        if handler is not None and not handler.auth.check(
            _text(req.headers.get(b"x-api-key")),
            _text(req.headers.get(b"authorization")),
            _query_key(query),
        ):
            req.denied = True  # answered 401 when complete; the body is not kept (API-04)
            if req.headers.get(b"expect", b"").lower() == b"100-continue":
                self._stop(Refusal(401, body=False))
            return
        if req.headers.get(b"expect", b"").lower() == b"100-continue" and self._transport:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for it

    def _check_upgrade(self, req: ApiRequest, version: str) -> None:
        """A request to an upgrade endpoint that cannot be upgraded is refused here (TR-01)."""
        headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in req.all_headers
        ]
        rejection = upgrade_refusal(req.method.decode("latin-1"), version, headers)
        if rejection is not None:
            self._stop(Refusal(rejection.status, payload=rejection_response(rejection)))

    def _idle(self) -> bool:
        """No API answer is pending, so the connection may change hands in order."""
        return self._api is None or self._api.idle()

    def _start_upgrade(
        self, endpoint: Upgrader, path: str, query: bytes | None, req: ApiRequest
    ) -> None:
        headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in req.all_headers
        ]
        request = UpgradeRequest(path, (query or b"").decode("latin-1"), headers)
        self._upgrade = (endpoint, request)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self._limits.max_body:
            self._stop(Refusal(413))
        req = self._req
        if req is not None and self._relay is None and not req.denied:
            req.body += body

    def on_message_complete(self) -> None:
        self._phase = IDLE
        self._head_bytes = 0
        self.deadline = 0.0  # no idle deadline while an answer is pending
        if self._relay is not None:
            return  # aiohttp answers; its keep-alive timeout takes over (limits.py)
        req = self._req
        self._req = None
        self._mid_chunk = True
        if req is None or self._closing:
            return
        if self._upgrade is not None:
            if not self._parser.should_upgrade():  # a plain GET of the endpoint (TR-01)
                self._upgrade = None
                self._stop(Refusal(400))
            return  # else the parser reports the upgrade next (data_received)
        if self._api is not None:
            self._api.push(req)

    # -- for the API pipeline (api.py) ---------------------------------------------------------

    @property
    def writable(self) -> asyncio.Transport | None:
        """The transport while answers may be written."""
        transport = self._transport
        if transport is None or self._closing or transport.is_closing():
            return None
        return transport

    def answered(self) -> None:
        """Every API request is answered: the idle timeout starts, unless the next request
        has begun already."""
        if self._phase == IDLE:
            self._set_deadline(self._limits.idle_timeout, IDLE)


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _query_key(query: bytes | None) -> str | None:
    if not query:
        return None
    values = parse_qs(query.decode("latin-1")).get("api_key")
    return values[0] if values else None
