"""JWKS key source for token verification (spec AU-05, AU-06).

Fetches ``client.token.jwks_public_endpoint`` with aiohttp (1 s timeout, one retry), keeps the
keys for one hour, and refetches early when a token names an unknown ``kid`` -- at most once
per ``refetch_interval`` so a stream of forged ``kid`` values cannot hammer the endpoint.
Accepted key types: ``RSA``, ``EC`` (P-256/384/521) and ``OKP`` with ``crv: Ed25519``.
Implements ``centripetal.core.tokens.JWKSKeySource``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import jwt

__all__ = ["JWKSFetchError", "JWKSKeySource", "UnknownKeyError"]

log = logging.getLogger(__name__)

_KTY = frozenset({"RSA", "EC", "OKP"})


class JWKSFetchError(Exception):
    """The key set could not be fetched or parsed."""


class UnknownKeyError(LookupError):
    """No key with this ``kid`` in the key set."""


def _parse_keys(document: Any) -> dict[str, tuple[Any, str | None]]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JWKSFetchError("JWKS document has no 'keys' list")
    keys: dict[str, tuple[Any, str | None]] = {}
    for item in document["keys"]:
        if not isinstance(item, dict) or item.get("kty") not in _KTY:
            continue
        if item.get("use", "sig") != "sig":
            continue
        if item["kty"] == "OKP" and item.get("crv") != "Ed25519":
            continue
        alg = item.get("alg")
        try:
            key = jwt.PyJWK(item).key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            log.warning("skipping JWK kid=%r: %s", item.get("kid"), exc)
            continue
        keys[str(item.get("kid", ""))] = (key, alg if isinstance(alg, str) else None)
    return keys


class JWKSKeySource:
    """Cached JWKS keys by ``kid``; ``session_factory`` returns the aiohttp session to use
    (the owner closes it)."""

    def __init__(
        self,
        url: str,
        session_factory: Callable[[], aiohttp.ClientSession],
        *,
        cache_ttl: float = 3600.0,
        timeout: float = 1.0,
        retries: int = 1,
        refetch_interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._session_factory = session_factory
        self._cache_ttl = cache_ttl
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = retries
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._keys: dict[str, tuple[Any, str | None]] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self._next_attempt = float("-inf")
        self._last_error: Exception | None = None
        self.fetch_count = 0

    async def get_key(self, kid: str) -> tuple[Any, str | None]:
        """The key and its JWK ``alg`` for ``kid``; raises ``UnknownKeyError`` or
        ``JWKSFetchError``. Stale keys keep being served while the endpoint fails."""
        if not self._stale() and kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if self._stale() or kid not in self._keys:
                if self._clock() >= self._next_attempt:
                    try:
                        await self._refresh()
                    except JWKSFetchError:
                        if kid not in self._keys:
                            raise
                elif self._last_error is not None and kid not in self._keys:
                    raise JWKSFetchError(f"fetching {self.url} failed: {self._last_error}")
        found = self._keys.get(kid)
        if found is None:
            raise UnknownKeyError(f"no key with kid {kid!r} at {self.url}")
        return found

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._cache_ttl

    async def _refresh(self) -> None:
        self._next_attempt = self._clock() + self._refetch_interval
        for _attempt in range(self._retries + 1):
            try:
                keys = _parse_keys(await self._fetch())
            except (aiohttp.ClientError, TimeoutError, ValueError, JWKSFetchError) as exc:
                self._last_error = exc
                continue
            self._keys = keys
            self._fetched_at = self._clock()
            self._last_error = None
            return
        log.warning("JWKS fetch from %s failed: %s", self.url, self._last_error)
        raise JWKSFetchError(f"fetching {self.url} failed: {self._last_error}")

    async def _fetch(self) -> Any:
        self.fetch_count += 1
        session = self._session_factory()
        async with session.get(self.url, timeout=self._timeout) as response:
            if response.status != 200:
                raise JWKSFetchError(f"{self.url} answered HTTP {response.status}")
            return await response.json(content_type=None)
