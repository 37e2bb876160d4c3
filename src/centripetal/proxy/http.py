"""HTTP transport of one proxy object (spec PX-03, PX-27, reliability R-11).

One ``HTTPCaller`` per configured proxy object: POST to its endpoint through the node's
pooled ``aiohttp.ClientSession``, at most ``MAX_IN_FLIGHT`` requests at once, the whole call
(queueing included) bounded by the proxy's ``timeout``. A non-200 status is an error unless
mapped by ``http.status_to_code_transforms``. ``https://`` endpoints are verified with the
system CAs, or as the proxy's ``http.tls`` says (its context and ``server_name`` are passed
per request). An answer larger than ``http.max_response_size`` is refused: by its
``Content-Length`` before any of the body is read, or as soon as a body of unknown length
passes the cap. Every fault - timeout, refused connection, certificate that does not verify,
unexpected status, oversized or unreadable body - raises error 100 (temporary) and is logged
once: fail closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp

from centripetal.core.errors import CommandError, DisconnectRequest
from centripetal.observability.logs import failure_log
from centripetal.proxy.reply import internal_error

if TYPE_CHECKING:
    from multidict import CIMultiDict

    from centripetal.config.schema import ProxyEndpoint
    from centripetal.observability.metrics import NodeMetrics
    from centripetal.tls import ClientTLS

__all__ = ["MAX_IN_FLIGHT", "HTTPCaller", "StatusTransform", "parse_transforms"]

logger = logging.getLogger("centripetal.proxy")
failures = failure_log(logger.name)  # one line per fault, repeats counted

MAX_IN_FLIGHT = 256  # concurrent requests per proxy object
READ_CHUNK = 65536  # bytes read at a time from a body of unknown length


class _TooLarge(Exception):
    """The backend's answer is over ``http.max_response_size``."""


@dataclass(frozen=True, slots=True)
class StatusTransform:
    """One ``http.status_to_code_transforms`` entry (PX-03)."""

    status_code: int
    error: CommandError | None = None
    disconnect: DisconnectRequest | None = None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_transforms(raw: list[dict[str, object]]) -> dict[int, StatusTransform]:
    """Parse ``[{status_code, to_error:{code,message,temporary}, to_disconnect:{code,reason}}]``;
    an entry without a positive code is ignored, the first entry of a status wins."""
    out: dict[int, StatusTransform] = {}
    for item in raw:
        status = _int(item.get("status_code"))
        to_error = item.get("to_error")
        to_disconnect = item.get("to_disconnect")
        error = disconnect = None
        if isinstance(to_error, dict) and _int(to_error.get("code")) > 0:
            error = CommandError(
                _int(to_error["code"]),
                str(to_error.get("message") or ""),
                temporary=bool(to_error.get("temporary", False)),
            )
        elif isinstance(to_disconnect, dict) and _int(to_disconnect.get("code")) > 0:
            disconnect = DisconnectRequest(
                _int(to_disconnect["code"]), str(to_disconnect.get("reason") or "")
            )
        if status > 0 and (error or disconnect) and status not in out:
            out[status] = StatusTransform(status, error, disconnect)
    return out


class HTTPCaller:
    """POSTs request bodies to one proxy endpoint; returns the 200 body."""

    def __init__(
        self,
        kind: str,
        endpoint: ProxyEndpoint,
        session: Callable[[], aiohttp.ClientSession],
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
        metrics: NodeMetrics | None = None,
        tls: ClientTLS | None = None,
    ) -> None:
        self.kind = kind
        self.metrics = metrics
        self.endpoint = endpoint
        self.url = endpoint.endpoint
        self.timeout = endpoint.timeout if endpoint.timeout > 0 else 1.0
        self._session = session
        self._slots = asyncio.Semaphore(max_in_flight)
        self._transforms = parse_transforms(endpoint.http.status_to_code_transforms)
        self.max_response_size = endpoint.http.max_response_size
        name = getattr(endpoint, "name", "")
        self.label = f"{kind} (proxy {name!r})" if name else kind
        # per-request TLS of ``http.tls`` (PX-27); without it aiohttp verifies with system CAs
        self._request_options: dict[str, Any] = {}
        if tls is not None:
            self._request_options["ssl"] = tls.context
            if tls.server_name:
                self._request_options["server_hostname"] = tls.server_name

    async def post(self, body: bytes, headers: CIMultiDict[str], client_id: str) -> bytes:
        """One proxy call. Raises ``CommandError``/``DisconnectRequest`` from a status
        transform, else ``CommandError(100)`` on any fault (R-11)."""
        started = time.perf_counter()
        failed = True
        try:
            result = await self._post(body, headers, client_id)
            failed = False
            return result
        finally:
            if self.metrics is not None:
                self.metrics.observe_proxy(self.kind, time.perf_counter() - started, failed=failed)

    async def _post(self, body: bytes, headers: CIMultiDict[str], client_id: str) -> bytes:
        try:
            async with (
                asyncio.timeout(self.timeout),
                self._slots,
                self._session().post(
                    self.url,
                    data=body,
                    headers=headers,
                    allow_redirects=False,
                    **self._request_options,
                ) as resp,
            ):
                if resp.status != 200:
                    self._status_fault(resp.status, client_id)
                return await self._read(resp)
        except (CommandError, DisconnectRequest):
            raise
        except _TooLarge as exc:
            reason = str(exc)
        except TimeoutError:
            reason = f"timeout after {self.timeout:g}s"
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        self._fault(client_id, reason)
        raise internal_error()

    def _fault(self, client_id: str, reason: str) -> None:
        """One line per fault; the same fault of this proxy is counted while it repeats."""
        failures.failure(
            f"proxying {self.label} to {self.url} for client {client_id}",
            reason,
            key=(self.label, self.url, reason),
        )

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        """The body, refused past ``max_response_size`` (0: no cap) without reading the rest;
        the connection is then closed, never drained."""
        cap = self.max_response_size
        if cap <= 0:
            return await resp.read()
        length = resp.content_length
        if length is not None and length > cap:
            resp.close()
            raise _TooLarge(
                f"response too large: Content-Length {length} exceeds http.max_response_size {cap}"
            )
        body = bytearray()
        async for chunk in resp.content.iter_chunked(READ_CHUNK):
            body += chunk
            if len(body) > cap:
                resp.close()
                raise _TooLarge(
                    f"response too large: more than {cap} bytes (http.max_response_size) read "
                    "and the body goes on"
                )
        return bytes(body)

    def _status_fault(self, status: int, client_id: str) -> None:
        transform = self._transforms.get(status)
        if transform is not None:
            if transform.error is not None:
                err = transform.error
                raise CommandError(err.code, err.message, temporary=err.temporary)
            if transform.disconnect is not None:
                raise DisconnectRequest(transform.disconnect.code, transform.disconnect.reason)
        self._fault(client_id, f"unexpected HTTP status {status}")
        raise internal_error()
