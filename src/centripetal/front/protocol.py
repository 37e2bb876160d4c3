"""The front protocol of one connection: parse, hold the budget, route (spec SV-01, TR-01).

See the package docstring for the theory of operation. This module parses with httptools and
enforces the request budget of limits.py; answering API calls is api.py's job.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, NoReturn

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
_KEPT = frozenset(  # headers a request answered here keeps by name
    {
        b"host",
        b"content-length",
        b"x-api-key",
        b"authorization",
        b"x-centrifugo-error-mode",
        b"connection",
        b"expect",
    }
)


class _HandOff(Exception):
    """Raised from a parser callback: aiohttp serves this request."""


class FrontProtocol(asyncio.Protocol):
    """One accepted connection; see the module docstring."""

    # the state of a fresh connection, as class attributes: a connection sets only what
    # changes (cheap accepts, W1); what every request reads is set in __init__
    _upgrade: tuple[Upgrader, UpgradeRequest] | None = None
    _transport: asyncio.Transport | None = None
    _chunk = b""
    _mid_chunk = False  # a request ended inside the read being parsed
    _req: ApiRequest | None = None
    _api: ApiPipeline | None = None  # front mode: this connection's API answers
    _handing_off = False
    _closing = False
    # the budget of the request being read (limits.py)
    _phase = IDLE
    _served = False  # a request was read on this connection
    _started = 0.0  # the accept (first request) or the request's first byte
    _head_bytes = 0  # bytes received while reading a head, in whole reads
    _head_size = 0  # request line and header bytes (relay mode)
    _headers = 0
    _hosts = 0
    _content_length = -1
    _body_bytes = 0
    deadline = 0.0  # loop time when ``expire`` runs; 0 = none
    _deadline_kind = IDLE
    _refusal: Refusal | None = None
    _relay: asyncio.Protocol | None = None  # aiohttp's protocol (relay mode)
    _passthrough = False  # aiohttp upgraded the connection: bytes are not HTTP
    _draining = -1  # bytes discarded after a refusal; -1: not draining

    def __init__(self, front: FrontContext) -> None:
        self._front = front
        self._limits = limits = front.limits
        self._head_cap = limits.head_bytes_cap  # read after every chunk of a head
        self._max_headers = front.max_headers
        self._max_header_bytes = limits.max_header_bytes
        self._idle_timeout = limits.idle_timeout
        self._read_timeout = limits.read_timeout
        self._max_body = limits.max_body
        self._body_digits = front.body_digits
        self._routes = front.routes
        self._parser = httptools.HttpRequestParser(self)
        # bytes of the current request, replayed to aiohttp on hand-off; None when the request
        # did not start at the beginning of a read (then it cannot be handed off)
        self._raw: list[bytes] | None = []
        # read on every request: instance attributes (a class attribute is a slower read)
        self._transport = None
        self._req = None
        self._api = None
        self._upgrade = None
        self._relay = None
        self._passthrough = False
        self._draining = -1
        self._closing = False
        self._phase = IDLE
        self._served = False
        self._head_bytes = 0
        self.deadline = 0.0
        self._started = 0.0

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self._front.track(self)  # first: it sets the clock when no sweep was running
        self._started = self._front.now
        self._set_deadline(self._limits.read_header_timeout, HEAD)

    def connection_lost(self, exc: Exception | None) -> None:
        self._front.untrack(self)
        self._closing = True
        self._detach_parser()
        if self._api is not None:
            self._api.cancel()
            self._api = None  # it holds this protocol: no cycle left behind
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
            if self._phase == IDLE and self._served:
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
        if self._phase != BODY and self._head_bytes > self._head_cap:
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
            self.deadline = self._front.now + timeout
            self._deadline_kind = kind
        else:
            self.deadline = 0.0

    def _begin_head(self) -> None:
        """A later request began: its head has ``read_header_timeout`` from its first byte
        (by the socket's coarse clock, server.py)."""
        self._phase = HEAD
        self._started = self._front.now
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
        elif self._deadline_kind == IDLE and self._api is not None and not self._api.idle():
            self._set_deadline(self._idle_timeout, IDLE)  # idle only once answered
        else:  # head or idle: Go closes without an answer on a read timeout
            logger.debug("closing a connection: %s timeout", "head" if self._phase else "idle")
            self._discard_relay()
            self.close()

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
        self._served = False  # read again by the parse below
        self._req = None  # relay mode keeps no request of its own
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
        self._detach_parser()  # the transport has a new protocol; this one is done
        if transport is not None and not transport.is_closing():
            endpoint, request = target
            endpoint.upgrade(transport, request, rest)

    def _detach_parser(self) -> None:
        """Drop the parser, whose callbacks point back here: without that cycle a finished
        protocol is freed at once instead of waiting for a full collection (a reconnect storm
        left 20 such objects per connection, freed by one 260 ms collection later on)."""
        if "_parser" in self.__dict__:
            del self._parser

    # -- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._phase = HEAD
        if self._relay is None:
            self._req = ApiRequest()
            if self._api is not None:  # a later request can be handed off if it starts a read
                self._raw = None if self._mid_chunk else [self._chunk]
        else:
            self._head_size = self._headers = self._hosts = self._body_bytes = 0
            self._content_length = -1

    def on_url(self, url: bytes) -> None:
        req = self._req
        if req is not None:
            req.url += url
        else:
            self._head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        """Headers are counted as they come (a flood of tiny ones stops at the count). A
        request answered here keeps them; their size is checked once the head is complete,
        ``Host`` and ``Content-Length`` are read from them then. A relayed request is only
        measured (``_relayed_header``)."""
        req = self._req
        if req is None:
            self._relayed_header(name, value)
            return
        all_headers = req.all_headers
        all_headers.append((name, value))
        if len(all_headers) > self._max_headers:
            self._stop(Refusal(431))
        lname = name.lower()
        # the first value of a kept header counts, as Go's Header.Get; a second Host is a 400
        if (
            lname in _KEPT
            and req.headers.setdefault(lname, value) is not value
            and lname == b"host"
        ):
            req.hosts = 2

    def _relayed_header(self, name: bytes, value: bytes) -> None:
        self._headers += 1
        if self._headers > self._max_headers:
            self._stop(Refusal(431))
        self._head_size += len(name) + len(value)
        lname = name.lower()
        if lname == b"host":
            self._hosts += 1
        elif lname == b"content-length":
            self._content_length = int(value) if value.isdigit() else -1

    def _stop(self, refusal: Refusal) -> NoReturn:
        """Stop the parser from a callback; ``data_received`` answers ``refusal``."""
        self._refusal = refusal
        raise refusal

    def on_headers_complete(self) -> None:
        """Go's rules for a complete head (limits.py), then where the request goes."""
        req = self._req
        max_head = self._max_header_bytes
        if req is None:
            if self._head_size + 4 * self._headers + 16 > max_head:
                self._stop(Refusal(431))
            self._check_host(self._parser.get_http_version(), self._hosts)
            if self._content_length > self._max_body:
                self._stop(Refusal(413))
        else:
            if self._head_bytes > max_head or len(self._chunk) > max_head:
                self._check_head_size(req)  # only a head that may be that large is measured
            headers = req.headers
            version = self._parser.get_http_version()
            if version != "1.1" or req.hosts or b"host" not in headers:
                self._check_host(version, req.hosts or (1 if b"host" in headers else 0))
            length = headers.get(b"content-length")  # as many digits as the cap: compare
            if (
                length is not None
                and len(length) >= self._body_digits
                and length.isdigit()
                and int(length) > self._max_body
            ):
                self._stop(Refusal(413))
        self._phase = BODY
        self._head_bytes = 0
        self._served = True
        if self._read_timeout > 0:
            self.deadline = self._started + self._read_timeout
            self._deadline_kind = BODY
        else:
            self.deadline = 0.0
        if req is not None:
            self._route(req)

    def _check_head_size(self, req: ApiRequest) -> None:
        """Request line and headers against ``max_header_bytes`` (431), counted like Go."""
        size = len(req.url) + 16
        size += sum(len(name) + len(value) + 4 for name, value in req.all_headers)
        if size > self._max_header_bytes:
            self._stop(Refusal(431))

    def _check_host(self, version: str, hosts: int) -> None:
        """Go's rules: HTTP/1.0 and 1.1 are served, others 505; exactly one ``Host`` from
        HTTP/1.1 on, at most one before (400)."""
        if version != "1.1" and version != "1.0":
            self._stop(Refusal(505, "unsupported protocol version"))
        if hosts > 1:
            self._stop(Refusal(400, "too many Host headers"))
        if hosts == 0 and version == "1.1":
            self._stop(Refusal(400, "missing required Host header"))

    def _route(self, req: ApiRequest) -> None:
        """Where the request goes: answered here, upgraded, or handed to aiohttp."""
        parser = self._parser
        req.method = parser.get_method()
        req.keep_alive = parser.should_keep_alive()
        url = httptools.parse_url(req.url)
        path = url.path.decode("latin-1")
        query = url.query
        req.path = path
        handler = self._routes.get(path)
        if req.method != b"POST" or handler is None:
            # not an API call: another endpoint takes the connection, if it can (see _idle)
            endpoint = self._front.upgrades.get(path)
            if endpoint is not None:
                request = self._check_upgrade(req, path, query)
                if self._idle():
                    self._upgrade = (endpoint, request)
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
        headers = req.headers
        if handler is not None and not handler.auth.check_raw(
            headers.get(b"x-api-key"), headers.get(b"authorization"), query
        ):
            req.denied = True  # answered 401 when complete; the body is not kept (API-04)
            self._body_bytes = 0
            if _continues(headers):
                self._stop(Refusal(401, body=False))
            return
        if b"expect" in headers and _continues(headers) and self._transport:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for it

    def _check_upgrade(self, req: ApiRequest, path: str, query: bytes | None) -> UpgradeRequest:
        """The request to an upgrade endpoint; one that cannot be upgraded is refused here
        (TR-01); the endpoint checks the WebSocket handshake itself."""
        headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in req.all_headers
        ]
        request = UpgradeRequest(path, (query or b"").decode("latin-1"), headers)
        method = req.method.decode("latin-1")
        rejection = upgrade_refusal(method, self._parser.get_http_version(), request)
        if rejection is not None:
            self._stop(Refusal(rejection.status, payload=rejection_response(rejection)))
        return request

    def _idle(self) -> bool:
        """No API answer is pending, so the connection may change hands in order."""
        return self._api is None or self._api.idle()

    def on_body(self, body: bytes) -> None:
        req = self._req
        if req is not None and not req.denied:
            req.body += body
            if len(req.body) > self._max_body:
                self._stop(Refusal(413))
        else:  # relayed, or sent with a wrong API key: counted, not kept
            self._body_bytes += len(body)
            if self._body_bytes > self._max_body:
                self._stop(Refusal(413))

    def on_message_complete(self) -> None:
        self._phase = IDLE
        self._head_bytes = 0
        if self._relay is not None:
            self.deadline = 0.0  # aiohttp answers; its keep-alive timeout takes over
            return
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
        if self._idle_timeout > 0:  # an answer still pending pushes it on (expire)
            self.deadline = self._front.now + self._idle_timeout
            self._deadline_kind = IDLE
        else:
            self.deadline = 0.0
        if self._api is not None:
            self._api.push(req)

    # -- for the API pipeline (api.py) ---------------------------------------------------------


def _continues(headers: dict[bytes, bytes]) -> bool:
    """``Expect: 100-continue``: the client waits for an interim answer."""
    return headers.get(b"expect", b"").lower() == b"100-continue"
