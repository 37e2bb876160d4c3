"""Test instrumentation: record every proxy request Django receives (PX-04, PX-05).

For each request whose path starts with ``/chat/centrifugo/``, one JSON line is appended
to the file named by the ``TUTORIAL_PROXY_LOG`` environment variable: the method, path,
the ``Cookie`` header (``null`` when absent), every request header, and the body parsed
as JSON. The views themselves stay exactly as in the tutorial.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

ENV_VAR = "TUTORIAL_PROXY_LOG"
PREFIX = "/chat/centrifugo/"

_lock = threading.Lock()


def _body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body)
    except ValueError:
        return {"undecodable": request.body.decode("utf-8", "replace")}


class ProxyRequestLog:
    """Middleware appending one JSON line per ``/chat/centrifugo/*`` request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.path = os.environ.get(ENV_VAR, "")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.path and request.path.startswith(PREFIX):
            record = {
                "method": request.method,
                "path": request.path,
                "cookie": request.headers.get("Cookie"),
                "headers": dict(request.headers),
                "body": _body(request),
            }
            line = json.dumps(record, sort_keys=True) + "\n"
            with _lock, open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line)
        return self.get_response(request)
