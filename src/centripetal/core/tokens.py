"""Connection and subscription JWT verification (spec §6: AU-01..AU-23, P-30, P-31, P-40, P-41).

Theory of operation
-------------------
The token is parsed by hand (three base64url segments, JSON header and claims) and checked in
the order Centrifugo's verifier uses, so that a token with several defects gets the same
answer as there:

1. size (> 64 KiB is rejected before any decoding), shape, base64url, JSON, claim types
   -> ``TokenInvalidError``;
2. ``aud``/``iss`` (exact or regex, AU-06) -> invalid;
3. signature (AU-05), unless ``skip_signature`` (AU-07) -> invalid;
4. connection token carrying ``channel`` (AU-03) -> invalid;
5. ``exp`` in the past or ``nbf`` in the future (AU-04) -> ``TokenExpiredError``;
6. subscription token without ``channel`` (AU-21) -> invalid.

Algorithm confusion is impossible by construction: the header ``alg`` selects a key *family*
(HS* -> only the HMAC secrets, RS* -> only the RSA key, ES* -> only the EC key of the matching
curve, JWKS -> only the key found by ``kid`` and compatible with its ``kty``), and each family
is verified with the PyJWT algorithm object of exactly that ``alg``. ``none`` in any spelling is
never accepted, not even with ``skip_signature``.

This module is sans-I/O: JWKS keys come from an injected ``JWKSKeySource``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm

from centripetal.config import schema

__all__ = [
    "MAX_TOKEN_SIZE",
    "ConnectTokenClaims",
    "JWKSKeySource",
    "SubscribeOptionsClaim",
    "SubscribeTokenClaims",
    "TokenError",
    "TokenExpiredError",
    "TokenInvalidError",
    "TokenMismatchError",
    "TokenVerifier",
    "check_subscribe_claims",
    "code_for",
]

MAX_TOKEN_SIZE = 65536
"""Tokens longer than this (characters) are rejected before decoding (reliability S-1)."""

MAX_KNOWN_HEADERS = 64
"""Distinct token header segments whose checked ``alg``/``kid`` are kept (``TokenVerifier``)."""

_INT64_MAX = 2**63 - 1
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class TokenError(Exception):
    """Base of every token verification failure."""


class TokenExpiredError(TokenError):
    """``exp`` in the past or ``nbf`` in the future (AU-04, AU-21): client error 109."""


class TokenInvalidError(TokenError):
    """Bad shape, signature, algorithm, audience, issuer or claims: 3500 on connect, 103 on
    subscribe (AU-04, AU-21)."""


class TokenMismatchError(TokenError):
    """Subscription token issued for another channel, user or client: disconnect 3500 (AU-21)."""


Context = Literal["connect", "refresh", "subscribe", "sub_refresh"]


def code_for(error: TokenError, context: Context) -> int:
    """The spec code for ``error`` raised while handling ``context``.

    Codes >= 3000 are disconnect codes, the others client error codes. connect: expired 109,
    invalid 3500 (P-30); refresh: expired 3005, invalid 3500 (P-40); subscribe: expired 109,
    invalid 103, mismatch 3500 (P-31, AU-21); sub_refresh: expired 109 (GAP-03, chosen so the
    SDK fetches a new token), invalid or mismatch 3500 (P-41).
    """
    if isinstance(error, TokenMismatchError):
        return 3500
    if isinstance(error, TokenExpiredError):
        return 3005 if context == "refresh" else 109
    if context == "subscribe":
        return 103
    return 3500


class JWKSKeySource(Protocol):
    """Where JWKS keys come from (AU-05); the I/O implementation lives outside ``core``.

    ``get_key`` returns the public key (a ``jwt.PyJWK`` or a ``cryptography`` public key) and
    the JWK's ``alg`` member (``None`` when the JWK has none); it raises for an unknown ``kid``
    or when the key set cannot be fetched.
    """

    async def get_key(self, kid: str) -> tuple[Any, str | None]: ...


@dataclass(slots=True)
class SubscribeOptionsClaim:
    """One entry of a connection token's ``subs`` claim (AU-02)."""

    info: bytes | None = None
    data: bytes | None = None
    override: schema.Override | None = None


@dataclass(slots=True)
class ConnectTokenClaims:
    """A verified connection token (AU-02).

    ``expire_at``: unix seconds, 0 = no expiry (``expire_at`` claim wins over ``exp``; an
    ``expire_at`` of 0 keeps the connection forever while ``exp`` still bounds the token).
    When ``subs`` is non-empty it takes precedence and ``channels`` must be ignored.
    Namespaces of ``channels``/``subs`` are not resolved here: the caller answers 102.
    """

    user: str
    expire_at: int = 0
    info: bytes | None = None
    channels: list[str] = field(default_factory=list)
    subs: dict[str, SubscribeOptionsClaim] = field(default_factory=dict)
    meta: bytes | None = None


@dataclass(slots=True)
class SubscribeTokenClaims:
    """A verified subscription token (AU-20). ``client`` is "" when the claim is absent."""

    user: str
    channel: str
    client: str = ""
    expire_at: int = 0
    info: bytes | None = None
    data: bytes | None = None
    override: schema.Override | None = None


def check_subscribe_claims(
    claims: SubscribeTokenClaims, channel: str, user: str, client_id: str
) -> None:
    """Raise ``TokenMismatchError`` unless the token is for this channel, user and client
    (AU-20, AU-21: disconnect 3500)."""
    if claims.channel != channel:
        raise TokenMismatchError(f"token channel {claims.channel!r} != {channel!r}")
    if claims.user != user:
        raise TokenMismatchError(f"token user {claims.user!r} != connection user {user!r}")
    if claims.client and claims.client != client_id:
        raise TokenMismatchError(f"token client {claims.client!r} != {client_id!r}")


# --- decoding helpers -------------------------------------------------------------------


def _b64url(segment: str) -> bytes:
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise TokenInvalidError("token segment is not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise TokenInvalidError(f"duplicate key {key!r} in token JSON")
        out[key] = value
    return out


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise TokenInvalidError("non-finite number in token JSON")
    return value


def _reject_constant(name: str) -> Any:
    raise TokenInvalidError(f"{name} is not JSON")


# one decoder for every token: ``json.loads`` with hooks would build a decoder per call
_JSON = json.JSONDecoder(
    object_pairs_hook=_no_duplicates, parse_float=_finite, parse_constant=_reject_constant
)


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = _JSON.decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise TokenInvalidError(f"token {what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise TokenInvalidError(f"token {what} is not a JSON object")
    return value


def _raw_json(value: Any) -> bytes | None:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _str(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TokenInvalidError(f"claim {name!r} must be a string")
    return value


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenInvalidError(f"claim {name!r} must be a number")
    if abs(value) > _INT64_MAX:
        raise TokenInvalidError(f"claim {name!r} is out of range")
    return float(value)


def _int64(claims: dict[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > _INT64_MAX:
        raise TokenInvalidError(f"claim {name!r} must be an int64")
    return value


def _b64_or_raw(obj: dict[str, Any], raw_name: str, b64_name: str) -> bytes | None:
    encoded = _str(obj, b64_name)
    if encoded:
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise TokenInvalidError(f"claim {b64_name!r} is not base64") from None
    return _raw_json(obj.get(raw_name))


def _override(value: Any) -> schema.Override | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TokenInvalidError("claim 'override' must be an object")
    flags: dict[str, bool | None] = {}
    for name in schema.Override.__struct_fields__:
        item = value.get(name)
        if item is None:
            continue
        flag = item.get("value", False) if isinstance(item, dict) else None
        if not isinstance(flag, bool):
            raise TokenInvalidError(f"override {name!r} must be {{'value': bool}}")
        flags[name] = flag
    return schema.Override(**flags)


def _sub_options(value: Any) -> SubscribeOptionsClaim:
    if not isinstance(value, dict):
        raise TokenInvalidError("each 'subs' entry must be an object")
    return SubscribeOptionsClaim(
        info=_b64_or_raw(value, "info", "b64info"),
        data=_b64_or_raw(value, "data", "b64data"),
        override=_override(value.get("override")),
    )


def _expire_at(claims: dict[str, Any], exp: float | None) -> int:
    explicit = _int64(claims, "expire_at")
    if explicit is not None:
        return max(explicit, 0)
    return int(exp) if exp is not None else 0


# --- keys ---------------------------------------------------------------------------------

_HMAC = {
    "HS256": HMACAlgorithm.SHA256,
    "HS384": HMACAlgorithm.SHA384,
    "HS512": HMACAlgorithm.SHA512,
}
_RSA = {"RS256": RSAAlgorithm.SHA256, "RS384": RSAAlgorithm.SHA384, "RS512": RSAAlgorithm.SHA512}
_EC_CURVES = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_EC_HASH = {"ES256": ECAlgorithm.SHA256, "ES384": ECAlgorithm.SHA384, "ES512": ECAlgorithm.SHA512}
_EDDSA = OKPAlgorithm()


def _load_public_key(pem: str, key_name: str) -> Any:
    data = pem.encode()
    try:
        if b"CERTIFICATE" in data:
            return x509.load_pem_x509_certificate(data).public_key()
        return serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise ValueError(f"client.token.{key_name}: not a PEM public key ({exc})") from None


def _verify_with_key(alg: str, key: Any, signing_input: bytes, signature: bytes) -> bool:
    """Verify with an asymmetric key whose family must match ``alg`` (JWKS keys)."""
    if isinstance(key, rsa.RSAPublicKey) and alg in _RSA:
        return RSAAlgorithm(_RSA[alg]).verify(signing_input, key, signature)
    if isinstance(key, ec.EllipticCurvePublicKey) and _EC_CURVES.get(key.curve.name) == alg:
        return ECAlgorithm(_EC_HASH[alg]).verify(signing_input, key, signature)
    if isinstance(key, ed25519.Ed25519PublicKey) and alg == "EdDSA":
        return _EDDSA.verify(signing_input, key, signature)
    raise TokenInvalidError(f"algorithm {alg!r} does not match the key type")


class TokenVerifier:
    """Verifies connection and subscription JWTs with one ``client.token`` (or
    ``client.subscription_token``, AU-22) configuration."""

    def __init__(
        self,
        cfg: schema.TokenConfig,
        *,
        jwks: JWKSKeySource | None = None,
        skip_signature: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cfg = cfg
        self._jwks = jwks
        self._skip = skip_signature
        self._clock = clock
        if cfg.audience and cfg.audience_regex:
            raise ValueError("client.token: use either audience or audience_regex, not both")
        if cfg.issuer and cfg.issuer_regex:
            raise ValueError("client.token: use either issuer or issuer_regex, not both")
        self._aud_re = re.compile(cfg.audience_regex) if cfg.audience_regex else None
        self._iss_re = re.compile(cfg.issuer_regex) if cfg.issuer_regex else None
        self._user_path = cfg.user_id_claim.split(".") if cfg.user_id_claim else None
        # header segment -> its (alg, kid), for headers that passed every check: the tokens
        # of one issuer share a few headers, decoded once (bounded, see ``_header``)
        self._headers: dict[str, tuple[str, str]] = {}
        if cfg.jwks_public_endpoint and jwks is None:
            raise ValueError("client.token.jwks_public_endpoint is set but no JWKS source given")
        # alg -> verification function (static keys, AU-05); unused when JWKS is on.
        self._static: dict[str, Callable[[bytes, bytes], bool]] = {}
        if cfg.hmac_secret_key:
            for alg, hash_alg in _HMAC.items():
                self._static[alg] = self._hmac_verifier(HMACAlgorithm(hash_alg))
        if cfg.rsa_public_key:
            rsa_key = _load_public_key(cfg.rsa_public_key, "rsa_public_key")
            if not isinstance(rsa_key, rsa.RSAPublicKey):
                raise ValueError("client.token.rsa_public_key: not an RSA public key")
            for alg, hash_alg in _RSA.items():
                self._static[alg] = self._asym_verifier(RSAAlgorithm(hash_alg), rsa_key)
        if cfg.ecdsa_public_key:
            ec_key = _load_public_key(cfg.ecdsa_public_key, "ecdsa_public_key")
            ec_alg = _EC_CURVES.get(ec_key.curve.name) if hasattr(ec_key, "curve") else None
            if not isinstance(ec_key, ec.EllipticCurvePublicKey) or ec_alg is None:
                raise ValueError("client.token.ecdsa_public_key: not a P-256/384/521 EC key")
            self._static[ec_alg] = self._asym_verifier(ECAlgorithm(_EC_HASH[ec_alg]), ec_key)

    def _hmac_verifier(self, algorithm: HMACAlgorithm) -> Callable[[bytes, bytes], bool]:
        current = self._cfg.hmac_secret_key.encode()
        previous = self._cfg.hmac_previous_secret_key.encode()
        valid_until = self._cfg.hmac_previous_secret_key_valid_until

        def verify(signing_input: bytes, signature: bytes) -> bool:
            if algorithm.verify(signing_input, current, signature):
                return True
            if not previous or (valid_until and self._clock() > valid_until):
                return False
            return algorithm.verify(signing_input, previous, signature)

        return verify

    @staticmethod
    def _asym_verifier(algorithm: Any, key: Any) -> Callable[[bytes, bytes], bool]:
        def verify(signing_input: bytes, signature: bytes) -> bool:
            return bool(algorithm.verify(signing_input, key, signature))

        return verify

    async def verify_connect(self, token: str) -> ConnectTokenClaims:
        """Verify a connection token (AU-01..AU-06, P-30, P-40)."""
        claims = await self._verify(token)
        channels = claims.get("channels") or []
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise TokenInvalidError("claim 'channels' must be a list of strings")
        subs_claim = claims.get("subs") or {}
        if not isinstance(subs_claim, dict):
            raise TokenInvalidError("claim 'subs' must be an object")
        result = ConnectTokenClaims(
            user=self._user(claims),
            expire_at=_expire_at(claims, _numeric_date(claims, "exp")),
            info=_b64_or_raw(claims, "info", "b64info"),
            channels=list(channels),
            subs={ch: _sub_options(opts) for ch, opts in subs_claim.items()},
            meta=_raw_json(claims.get("meta")),
        )
        if _str(claims, "channel"):
            raise TokenInvalidError("connection token must not contain a 'channel' claim")
        self._check_times(claims)
        return result

    async def verify_subscribe(self, token: str) -> SubscribeTokenClaims:
        """Verify a subscription token (AU-20, AU-21, P-31, P-41); the caller then runs
        ``check_subscribe_claims``."""
        claims = await self._verify(token)
        result = SubscribeTokenClaims(
            user=self._user(claims),
            channel=_str(claims, "channel"),
            client=_str(claims, "client"),
            expire_at=_expire_at(claims, _numeric_date(claims, "exp")),
            info=_b64_or_raw(claims, "info", "b64info"),
            data=_b64_or_raw(claims, "data", "b64data"),
            override=_override(claims.get("override")),
        )
        self._check_times(claims)
        if not result.channel:
            raise TokenInvalidError("subscription token requires a 'channel' claim")
        return result

    async def _verify(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_SIZE:
            raise TokenInvalidError("token too large")
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenInvalidError("token must have three segments")
        known = self._headers.get(parts[0])
        if known is None:
            header = _json_object(_b64url(parts[0]), "header")
            claims = _json_object(_b64url(parts[1]), "claims")
            signature = _b64url(parts[2])
            alg, kid = self._header(parts[0], header)
        else:  # the same checks passed for this very segment before
            alg, kid = known
            claims = _json_object(_b64url(parts[1]), "claims")
            signature = _b64url(parts[2])
        for name in ("sub", "iss", "jti", "client", "channel", "b64info"):
            _str(claims, name)
        for name in ("exp", "nbf", "iat"):
            _numeric_date(claims, name)
        self._check_audience_issuer(claims)
        if self._skip:
            return claims
        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
        if self._jwks is not None:
            ok = await self._verify_jwks(alg, kid, signing_input, signature)
        else:
            verify = self._static.get(alg)
            if verify is None:
                raise TokenInvalidError(f"algorithm {alg!r} is not enabled")
            ok = verify(signing_input, signature)
        if not ok:
            raise TokenInvalidError("bad token signature")
        return claims

    def _header(self, segment: str, header: dict[str, Any]) -> tuple[str, str]:
        """``alg`` and ``kid`` of a decoded header, checked; remembered for ``segment``."""
        alg = header.get("alg")
        if not isinstance(alg, str) or alg.lower() == "none":
            raise TokenInvalidError(f"algorithm {alg!r} is not allowed")
        kid = header.get("kid", "")
        if not isinstance(kid, str):
            raise TokenInvalidError("header 'kid' must be a string")
        if len(self._headers) >= MAX_KNOWN_HEADERS:
            self._headers.clear()
        self._headers[segment] = (alg, kid)
        return alg, kid

    async def _verify_jwks(self, alg: str, kid: str, signing_input: bytes, sig: bytes) -> bool:
        assert self._jwks is not None
        try:
            key, key_alg = await self._jwks.get_key(kid)
        except Exception as exc:  # unknown kid, fetch failure: Centrifugo answers invalid
            raise TokenInvalidError(f"no JWKS key for kid {kid!r}: {exc}") from None
        if key_alg is not None and key_alg != alg:
            raise TokenInvalidError(f"token alg {alg!r} != JWK alg {key_alg!r}")
        return _verify_with_key(alg, getattr(key, "key", key), signing_input, sig)

    def _check_audience_issuer(self, claims: dict[str, Any]) -> None:
        aud = claims.get("aud")
        if aud is None:
            audiences: list[str] = []
        elif isinstance(aud, str):
            audiences = [aud]
        elif isinstance(aud, list) and all(isinstance(a, str) for a in aud):
            audiences = aud
        else:
            raise TokenInvalidError("claim 'aud' must be a string or a list of strings")
        cfg = self._cfg
        if cfg.audience and cfg.audience not in audiences:
            raise TokenInvalidError("invalid audience")
        if cfg.issuer and _str(claims, "iss") != cfg.issuer:
            raise TokenInvalidError("invalid issuer")
        # Go regexp MatchString semantics: unanchored search (anchor in the pattern if needed).
        if self._iss_re is not None and not self._iss_re.search(_str(claims, "iss")):
            raise TokenInvalidError("issuer not matched")
        aud_re = self._aud_re
        if aud_re is not None and not any(aud_re.search(a) for a in audiences):
            raise TokenInvalidError("audience not matched")

    def _check_times(self, claims: dict[str, Any]) -> None:
        exp = _numeric_date(claims, "exp")
        nbf = _numeric_date(claims, "nbf")
        now = self._clock()
        if exp is not None and exp <= now:
            raise TokenExpiredError("token expired")
        if nbf is not None and nbf > now:
            raise TokenExpiredError("token not valid yet")

    def _user(self, claims: dict[str, Any]) -> str:
        if self._user_path is None:
            return _str(claims, "sub")
        value: Any = claims
        for step in self._user_path:
            value = value.get(step) if isinstance(value, dict) else None
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise TokenInvalidError(f"claim {self._cfg.user_id_claim!r} must be a string or int")
