"""Token helpers of the command line: ``gentoken``, ``gensubtoken``, ``checktoken``,
``checksubtoken`` (SV-15, AU-02..AU-06, AU-20..AU-22).

A small, self-contained check with PyJWT and the configured static keys (HMAC, RSA, ECDSA);
the server's full verifier (JWKS, key rotation windows, regex claims) lives elsewhere.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import warnings
from typing import Any

import jwt

from centripetal.config import schema
from centripetal.config.durations import format_duration

__all__ = ["TokenError", "check_token", "generate_token", "token_config"]

_HMAC = ["HS256", "HS384", "HS512"]
_RSA = ["RS256", "RS384", "RS512"]
_ECDSA = ["ES256", "ES384", "ES512"]


class TokenError(Exception):
    """A token could not be generated or verified; the message is printed as is."""


def token_config(config: schema.Config, subscription: bool) -> schema.TokenConfig:
    """AU-22: subscription tokens use ``client.subscription_token`` when it is enabled."""
    if subscription and config.client.subscription_token.enabled:
        return config.client.subscription_token
    return config.client.token


def generate_token(
    token: schema.TokenConfig, user: str, ttl: int, channel: str | None = None
) -> str:
    """HS256 JWT with ``sub``, ``iat``, ``exp`` (when ttl > 0) and ``channel`` if given."""
    if not token.hmac_secret_key:
        raise TokenError("no HMAC secret key set")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user, "iat": now}
    if ttl > 0:
        claims["exp"] = now + ttl
    if channel is not None:
        claims["channel"] = channel
    if token.user_id_claim:
        node = claims
        *parents, last = token.user_id_claim.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = user
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short development secrets are the user's choice
        return jwt.encode(claims, token.hmac_secret_key, algorithm="HS256")


def describe_ttl(ttl: int) -> str:
    """``with expiration TTL 168h0m0s`` or ``without expiration`` (as Centrifugo prints)."""
    return "without expiration" if ttl < 0 else f"with expiration TTL {format_duration(ttl)}"


def _key_for(token: schema.TokenConfig, alg: str) -> str:
    if alg in _HMAC and token.hmac_secret_key:
        return token.hmac_secret_key
    if alg in _RSA and token.rsa_public_key:
        return token.rsa_public_key
    if alg in _ECDSA and token.ecdsa_public_key:
        return token.ecdsa_public_key
    raise TokenError(f"unsupported or not configured algorithm {alg}")


def check_token(
    token_cfg: schema.TokenConfig, token: str, subscription: bool
) -> tuple[dict[str, Any], str]:
    """Verify a token; returns (claims, description) or raises ``TokenError``."""
    try:
        header = jwt.get_unverified_header(token)
        raw_claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenError(f"malformed token: {exc}") from None
    alg = str(header.get("alg", ""))
    prefix = f"token with algorithm {alg} and claims {json.dumps(raw_claims)} has error"
    try:
        key = _key_for(token_cfg, alg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=token_cfg.audience or None,
                issuer=token_cfg.issuer or None,
                options={"verify_aud": bool(token_cfg.audience), "require": []},
            )
    except TokenError as exc:
        raise TokenError(f"{prefix}: {exc}") from None
    except jwt.ExpiredSignatureError:
        raise TokenError(f"{prefix}: token expired") from None
    except jwt.PyJWTError as exc:
        raise TokenError(f"{prefix}: invalid token: {exc}") from None
    if subscription and not claims.get("channel"):
        raise TokenError(f"{prefix}: invalid token: no channel claim")
    if not subscription and "channel" in claims:
        raise TokenError(f"{prefix}: invalid token: connection token has channel claim")
    exp = claims.get("exp")
    if isinstance(exp, int | float):
        at = dt.datetime.fromtimestamp(exp, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return claims, f"with expiration at {at}"
    return claims, "without expiration"
