"""Helpers for the live tests: free ports, server processes, waits and tokens.

Every wait in these helpers is multiplied by :data:`TIMEOUT_FACTOR`
(environment variable ``CENTRIPETAL_TEST_TIMEOUT_FACTOR``, default 1) so slow
CI machines do not flake (DESIGN §7).
"""

from __future__ import annotations

from support.ports import free_port, port_accepts
from support.server import ServerError, ServerFactory, ServerProcess
from support.timing import TIMEOUT_FACTOR, scaled, wait_until
from support.tokens import connection_token, subscription_token
from support.tools import is_ci, require_tool

__all__ = [
    "TIMEOUT_FACTOR",
    "ServerError",
    "ServerFactory",
    "ServerProcess",
    "connection_token",
    "free_port",
    "is_ci",
    "port_accepts",
    "require_tool",
    "scaled",
    "subscription_token",
    "wait_until",
]
