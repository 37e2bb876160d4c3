"""The front door: every accepted connection starts here, under one request budget.

Theory of operation
-------------------
Every accepted connection starts in ``FrontProtocol``. httptools parses its requests, and the
budget of limits.py holds for each of them whoever serves it: head size and header count
(431), head and request read times, idle keep-alive time, body size (413), ``Host`` and
protocol version rules (400, 505). Deadlines are plain numbers checked by one sweep per
socket (server.py), never a timer per connection. Then:

* ``POST <http_api.handler_prefix>/<method>`` (API-01) — the connection stays in front mode
  and every request on it is answered here (api.py): the API key is checked as soon as the
  head is read (401 without buffering the body, API-04), then one executor call and one
  write. This is the benchmark's W5 path.
* any method on an upgrade endpoint (``websocket.handler_prefix``, TR-01) — a valid handshake
  goes to that endpoint's ``upgrade``, which answers it and gives the transport its own
  protocol (transports/websocket.py); the rest is refused here (400, 405).
* anything else (streaming transports, the legacy ``POST /api``, health, metrics …) — relay
  mode: aiohttp's protocol serves the connection, but this protocol stays in front of it,
  replays the bytes read so far, forwards every later byte and keeps parsing them only to hold
  the budget. An upgrade aiohttp serves ends the guarding (its frames are not HTTP).

A refused request gets its answer, then the connection is half-closed and read to the end for
a short while (``LINGER``) so the answer is not lost to a TCP reset.
"""

from centripetal.front.protocol import FrontProtocol
from centripetal.front.server import FrontContext, FrontServer, Upgrader

__all__ = ["FrontContext", "FrontProtocol", "FrontServer", "Upgrader"]
