"""The server HTTP API (spec §3): ``POST /api/<method>``, the legacy ``POST /api`` format,
API key auth and transport error mode."""

from __future__ import annotations

from centripetal.api.errors import ApiError
from centripetal.api.executor import METHODS, Executor
from centripetal.api.http import ApiAuth, add_api_routes, api_app_for

__all__ = ["METHODS", "ApiAuth", "ApiError", "Executor", "add_api_routes", "api_app_for"]
