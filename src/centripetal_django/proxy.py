"""Proxy views: the backend side of the server's HTTP proxies (spec §4, PX-10..PX-17).

Decorate a function taking ``(request, proxy)`` with :func:`proxy_view`; the decorator

* accepts only ``POST`` (405 otherwise) and exempts the view from CSRF (the caller is the
  real-time server, not a browser form);
* checks the shared secret header (``CENTRIPETAL['PROXY_SECRET_HEADER']``) with
  :func:`hmac.compare_digest` and answers 403 when it is missing or wrong;
* parses the JSON body into a :class:`ProxyRequest` (400 on malformed JSON: the server turns
  any non-200 into error 100 and admits nothing, PX-28);
* serialises what the handler returns: a :func:`result` / :func:`error` / :func:`disconnect`
  dict, or a raised :class:`ProxyError` / :class:`ProxyDisconnect`.

Async handlers (``async def``) give async views.
"""

from __future__ import annotations

import base64
import functools
import hmac
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .conf import get_settings

__all__ = [
    "ProxyDisconnect",
    "ProxyError",
    "ProxyRequest",
    "disconnect",
    "error",
    "proxy_view",
    "result",
]

Reply: TypeAlias = dict[str, Any]
SyncHandler: TypeAlias = Callable[[HttpRequest, "ProxyRequest"], Reply]
AsyncHandler: TypeAlias = Callable[[HttpRequest, "ProxyRequest"], Awaitable[Reply]]


class ProxyError(Exception):
    """Raise in a handler to answer ``{"error": {...}}`` (codes 400-1999 for the application;
    103 permission denied, 107 bad request as the server uses them)."""

    def __init__(self, code: int, message: str, *, temporary: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.temporary = temporary

    def as_reply(self) -> Reply:
        return error(self.code, self.message, temporary=self.temporary)


class ProxyDisconnect(Exception):
    """Raise in a handler to answer ``{"disconnect": {"code", "reason"}}`` (4000-4999)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason

    def as_reply(self) -> Reply:
        return disconnect(self.code, self.reason)


@dataclass(frozen=True, slots=True)
class ProxyRequest:
    """The fields every proxy request carries plus the event's own (PX-10..PX-15)."""

    client: str = ""
    transport: str = ""
    protocol: str = ""
    encoding: str = ""
    user: str = ""
    channel: str = ""
    method: str = ""
    data: Any = None
    b64data: str = ""
    meta: Any = None
    channels: list[str] = field(default_factory=list)
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ProxyRequest:
        """Build from a decoded request body; unknown fields stay in ``raw``."""

        def text(key: str) -> str:
            value = body.get(key, "")
            return value if isinstance(value, str) else ""

        channels = body.get("channels") or []
        return cls(
            client=text("client"),
            transport=text("transport"),
            protocol=text("protocol"),
            encoding=text("encoding"),
            user=text("user"),
            channel=text("channel"),
            method=text("method"),
            data=body.get("data"),
            b64data=text("b64data"),
            meta=body.get("meta"),
            channels=[c for c in channels if isinstance(c, str)],
            raw=dict(body),
        )

    @property
    def payload(self) -> Any:
        """The client's payload: ``data``, or the JSON decoded from ``b64data`` when the
        server runs with ``binary_encoding`` (``None`` when it is not JSON)."""
        if self.data is not None or not self.b64data:
            return self.data
        try:
            return json.loads(base64.b64decode(self.b64data))
        except (ValueError, UnicodeDecodeError):
            return None


def result(**fields: Any) -> Reply:
    """``{"result": {...}}``; ``None`` values are left out (PX-10..PX-15 result fields)."""
    return {"result": {k: v for k, v in fields.items() if v is not None}}


def error(code: int, message: str, *, temporary: bool = False) -> Reply:
    """``{"error": {"code", "message"[, "temporary"]}}`` (PX-17)."""
    body: dict[str, Any] = {"code": code, "message": message}
    if temporary:
        body["temporary"] = True
    return {"error": body}


def disconnect(code: int, reason: str) -> Reply:
    """``{"disconnect": {"code", "reason"}}`` (PX-17)."""
    return {"disconnect": {"code": code, "reason": reason}}


def secret_ok(request: HttpRequest) -> bool:
    """Whether the request carries the configured proxy secret (always true when none is set)."""
    conf = get_settings()
    if not conf.PROXY_SECRET:
        return True
    supplied = request.META.get(conf.proxy_secret_meta_key, "")
    return hmac.compare_digest(supplied.encode(), conf.PROXY_SECRET.encode())


def _prepare(request: HttpRequest) -> HttpResponse | ProxyRequest:
    if request.method != "POST":
        response = HttpResponse("proxy endpoints accept POST only\n", status=405)
        response["Allow"] = "POST"
        return response
    if not secret_ok(request):
        return HttpResponse("missing or wrong proxy secret\n", status=403)
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return HttpResponse("request body is not JSON\n", status=400)
    if not isinstance(body, dict):
        return HttpResponse("request body is not a JSON object\n", status=400)
    return ProxyRequest.from_body(body)


def _respond(reply: Reply) -> JsonResponse:
    return JsonResponse(reply)


def proxy_view(handler: SyncHandler | AsyncHandler) -> Callable[..., Any]:
    """Turn ``handler(request, proxy) -> reply`` into a CSRF-exempt, secret-checked view."""
    if inspect.iscoroutinefunction(handler):
        async_handler: AsyncHandler = handler

        @functools.wraps(handler)
        async def async_view(request: HttpRequest) -> HttpResponse:
            prepared = _prepare(request)
            if isinstance(prepared, HttpResponse):
                return prepared
            try:
                return _respond(await async_handler(request, prepared))
            except (ProxyError, ProxyDisconnect) as exc:
                return _respond(exc.as_reply())

        return csrf_exempt(async_view)

    sync_handler: SyncHandler = handler  # type: ignore[assignment]

    @functools.wraps(handler)
    def view(request: HttpRequest) -> HttpResponse:
        prepared = _prepare(request)
        if isinstance(prepared, HttpResponse):
            return prepared
        try:
            return _respond(sync_handler(request, prepared))
        except (ProxyError, ProxyDisconnect) as exc:
            return _respond(exc.as_reply())

    return csrf_exempt(view)
