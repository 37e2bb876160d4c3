"""JWT attack corpus (reliability plan S-1; spec AU-03..AU-06, AU-20, AU-21).

Tokens are built at test time with PyJWT's algorithm objects and ``cryptography``; headers,
claims and signatures are assembled by hand so that malformed tokens can be expressed.
Every case names the verifier configuration it targets, the verification entry point, the
exact exception class expected and the spec code (``code_for``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from centripetal.config import schema
from centripetal.core.tokens import TokenError, TokenExpiredError, TokenInvalidError

HMAC_SECRET = "corpus-hmac-secret-0123456789abcdef"
PREVIOUS_SECRET = "corpus-previous-secret-0123456789ab"
AUDIENCE = "centripetal-tests"
ISSUER = "https://issuer.example"

Mode = Literal["hmac", "rsa", "ecdsa", "aud_iss", "rotated", "jwks"]
Kind = Literal["connect", "subscribe"]


@dataclass(frozen=True)
class Keys:
    rsa: rsa.RSAPrivateKey
    rsa_other: rsa.RSAPrivateKey
    p256: ec.EllipticCurvePrivateKey
    p384: ec.EllipticCurvePrivateKey
    p521: ec.EllipticCurvePrivateKey
    ed25519: ed25519.Ed25519PrivateKey

    def public_pem(self, key: Any) -> str:
        return (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def public_der(self, key: Any) -> bytes:
        return key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@cache
def keys() -> Keys:
    return Keys(
        rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        rsa_other=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        p256=ec.generate_private_key(ec.SECP256R1()),
        p384=ec.generate_private_key(ec.SECP384R1()),
        p521=ec.generate_private_key(ec.SECP521R1()),
        ed25519=ed25519.Ed25519PrivateKey.generate(),
    )


def config(mode: Mode) -> schema.TokenConfig:
    """The ``client.token`` section each corpus mode verifies with."""
    k = keys()
    if mode == "rsa":
        return schema.TokenConfig(rsa_public_key=k.public_pem(k.rsa))
    if mode == "ecdsa":
        return schema.TokenConfig(ecdsa_public_key=k.public_pem(k.p256))
    if mode == "aud_iss":
        return schema.TokenConfig(hmac_secret_key=HMAC_SECRET, audience=AUDIENCE, issuer=ISSUER)
    if mode == "rotated":
        return schema.TokenConfig(
            hmac_secret_key=HMAC_SECRET,
            hmac_previous_secret_key=PREVIOUS_SECRET,
            hmac_previous_secret_key_valid_until=int(time.time()) - 60,
        )
    if mode == "jwks":
        return schema.TokenConfig(jwks_public_endpoint="https://keys.example/jwks")
    return schema.TokenConfig(hmac_secret_key=HMAC_SECRET)


# --- raw token assembly -----------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: Any) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def signing_input(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{segment(header)}.{segment(claims)}"


def sign(alg: str, key: Any, message: bytes) -> bytes:
    """Sign with ``alg`` and any key -- HMAC keys may be arbitrary bytes (key confusion)."""
    if alg.startswith("HS"):
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
        raw = key.encode() if isinstance(key, str) else key
        return hmac.new(raw, message, digest[alg]).digest()
    if alg.startswith("RS"):
        hashes = {"RS256": RSAAlgorithm.SHA256, "RS384": RSAAlgorithm.SHA384}
        return RSAAlgorithm(hashes.get(alg, RSAAlgorithm.SHA512)).sign(message, key)
    if alg.startswith("ES"):
        hashes = {"ES256": ECAlgorithm.SHA256, "ES384": ECAlgorithm.SHA384}
        return ECAlgorithm(hashes.get(alg, ECAlgorithm.SHA512)).sign(message, key)
    if alg == "EdDSA":
        return OKPAlgorithm().sign(message, key)
    raise ValueError(alg)


def token(
    claims: Any,
    *,
    alg: str = "HS256",
    key: Any = HMAC_SECRET,
    header: dict[str, Any] | None = None,
) -> str:
    hdr = {"alg": alg, "typ": "JWT"} if header is None else header
    body = signing_input(hdr, claims)
    return f"{body}.{b64(sign(alg, key, body.encode()))}"


YEAR = 365 * 24 * 3600  # "not before" far enough ahead for any test run's length


def future(seconds: int = 3600) -> int:
    return int(time.time()) + seconds


# --- the corpus ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    token: str
    mode: Mode
    kind: Kind
    expected: type[TokenError]
    code: int


def _case(
    name: str, tok: str, expected: type[TokenError], *, mode: Mode = "hmac", kind: Kind = "connect"
) -> Case:
    code = 109 if expected is TokenExpiredError else 103 if kind == "subscribe" else 3500
    return Case(name, tok, mode, kind, expected, code)


def build() -> list[Case]:
    k = keys()
    inv, exp = TokenInvalidError, TokenExpiredError
    ok_claims = {"sub": "42", "exp": future()}
    sub_claims = {"sub": "42", "channel": "$chat", "exp": future()}
    cases: list[Case] = []
    add = cases.append

    for spelling in ("none", "None", "NONE", "nOnE"):
        body = signing_input({"alg": spelling, "typ": "JWT"}, ok_claims)
        add(_case(f"alg-{spelling}-unsigned", f"{body}.", inv))
        signed = b64(sign("HS256", HMAC_SECRET, body.encode()))
        add(_case(f"alg-{spelling}-with-signature", f"{body}.{signed}", inv))
        add(_case(f"alg-{spelling}-subscribe", f"{body}.", inv, kind="subscribe"))

    pem = k.public_pem(k.rsa)
    add(_case("hs256-with-rsa-pem", token(ok_claims, key=pem), inv, mode="rsa"))
    add(_case("hs256-with-rsa-pem-lf", token(ok_claims, key=pem.strip()), inv, mode="rsa"))
    add(_case("hs384-with-rsa-pem", token(ok_claims, alg="HS384", key=pem), inv, mode="rsa"))
    add(_case("hs256-with-rsa-der", token(ok_claims, key=k.public_der(k.rsa)), inv, mode="rsa"))
    jwk = RSAAlgorithm.to_jwk(k.rsa.public_key())
    add(_case("hs256-with-rsa-jwk", token(ok_claims, key=jwk), inv, mode="rsa"))
    add(_case("hs256-with-ec-pem", token(ok_claims, key=k.public_pem(k.p256)), inv, mode="ecdsa"))
    add(_case("rs256-only-hmac", token(ok_claims, alg="RS256", key=k.rsa), inv))
    add(_case("es256-only-hmac", token(ok_claims, alg="ES256", key=k.p256), inv))
    add(_case("rs256-foreign-key", token(ok_claims, alg="RS256", key=k.rsa_other), inv, mode="rsa"))
    add(_case("ps256-rsa-mode", _ps256(ok_claims, k.rsa), inv, mode="rsa"))
    add(_case("es256-wrong-curve", token(ok_claims, alg="ES256", key=k.p384), inv, mode="ecdsa"))
    add(_case("es384-not-enabled", token(ok_claims, alg="ES384", key=k.p384), inv, mode="ecdsa"))
    add(_case("eddsa-not-enabled", token(ok_claims, alg="EdDSA", key=k.ed25519), inv))

    good = token(ok_claims)
    head, payload, sig = good.split(".")
    add(_case("empty-signature", f"{head}.{payload}.", inv))
    add(_case("truncated-signature", f"{head}.{payload}.{sig[:20]}", inv))
    add(_case("foreign-signature", token(ok_claims, key="someone-else-secret"), inv))
    other_sig = token({"sub": "1", "exp": future()}).split(".")[2]
    add(_case("signature-of-other-token", f"{head}.{payload}.{other_sig}", inv))
    add(_case("two-parts", f"{head}.{payload}", inv))
    add(_case("four-parts", f"{good}.{sig}", inv))
    add(_case("non-base64url", f"{head}.{payload[:-2]}+/.{sig}", inv))
    add(_case("padded-segment", f"{head}=.{payload}.{sig}", inv))
    add(_case("empty-token", "", inv))
    add(_case("non-ascii", f"{head}.{payload}é.{sig}", inv))
    add(_case("header-not-json", f"{b64(b'{alg')}.{payload}.{sig}", inv))
    add(_case("header-array", f"{segment(['HS256'])}.{payload}.{sig}", inv))
    add(_case("claims-array", token([ok_claims]), inv))
    add(_case("alg-missing", token(ok_claims, header={"typ": "JWT"}), inv))
    huge = {"sub": "42", "exp": future(), "info": {"pad": "x" * 70000}}
    add(_case("huge-token", token(huge), inv))

    add(_case("exp-past", token({"sub": "42", "exp": int(time.time()) - 10}), exp))
    add(_case("exp-string", token({"sub": "42", "exp": str(future())}), inv))
    add(_case("exp-float-past", token({"sub": "42", "exp": time.time() - 5.5}), exp))
    add(_case("exp-1e20", token({"sub": "42", "exp": 10**20}), inv))
    add(_case("exp-1e20-float", token({"sub": "42", "exp": 1e20}), inv))
    add(_case("exp-bool", token({"sub": "42", "exp": True}), inv))
    add(
        _case("nbf-future", token({"sub": "42", "exp": future(2 * YEAR), "nbf": future(YEAR)}), exp)
    )
    add(_case("exp-past-bad-signature", token({"sub": "1", "exp": 1}, key="wrong"), inv))
    add(_case("sub-exp-past", token({**sub_claims, "exp": 100}), exp, kind="subscribe"))

    add(
        _case("aud-wrong", token({**ok_claims, "aud": "other", "iss": ISSUER}), inv, mode="aud_iss")
    )
    add(_case("aud-missing", token({**ok_claims, "iss": ISSUER}), inv, mode="aud_iss"))
    add(
        _case(
            "iss-wrong", token({**ok_claims, "aud": AUDIENCE, "iss": "evil"}), inv, mode="aud_iss"
        )
    )

    add(_case("connect-with-channel", token({**ok_claims, "channel": "news"}), inv))
    add(_case("subscription-token-as-connect", token(sub_claims), inv))
    add(_case("sub-token-no-channel", token(ok_claims), inv, kind="subscribe"))
    add(
        _case(
            "sub-token-empty-channel", token({**sub_claims, "channel": ""}), inv, kind="subscribe"
        )
    )
    add(_case("sub-as-number", token({"sub": 42, "exp": future()}), inv))
    add(_case("sub-as-number-subscribe", token({**sub_claims, "sub": 42}), inv, kind="subscribe"))
    dup = f'{{"sub":"42","sub":"admin","exp":{future()}}}'
    body = f"{segment({'alg': 'HS256'})}.{b64(dup.encode())}"
    add(_case("duplicate-sub", f"{body}.{b64(sign('HS256', HMAC_SECRET, body.encode()))}", inv))
    add(_case("b64info-invalid", token({**ok_claims, "b64info": "%%%"}), inv))
    add(_case("expire-at-float", token({**ok_claims, "expire_at": 1.5}), inv))
    add(_case("channels-not-list", token({**ok_claims, "channels": "news"}), inv))

    attacker = "attacker-secret-0123456789abcdef0123"
    jku = {"alg": "HS256", "jku": "https://evil.example/jwks.json"}
    add(_case("jku-header", token(ok_claims, key=attacker, header=jku), inv))
    x5u = {"alg": "RS256", "x5u": "https://evil.example/cert.pem"}
    add(
        _case(
            "x5u-header",
            token(ok_claims, alg="RS256", key=k.rsa_other, header=x5u),
            inv,
            mode="rsa",
        )
    )
    kid = {"alg": "HS256", "kid": "../../dev/null"}
    add(_case("kid-dev-null-empty-key", token(ok_claims, key=b"", header=kid), inv))
    add(_case("kid-dev-null-jwks", token(ok_claims, key=b"", header=kid), inv, mode="jwks"))
    kid_rs = {"alg": "RS256", "kid": "../../dev/null"}
    add(
        _case(
            "kid-dev-null-jwks-rs",
            token(ok_claims, alg="RS256", key=k.rsa, header=kid_rs),
            inv,
            mode="jwks",
        )
    )
    add(
        _case(
            "jwks-hs256-with-key-pem",
            token(ok_claims, key=pem, header={"alg": "HS256", "kid": "rsa-1"}),
            inv,
            mode="jwks",
        )
    )
    add(
        _case(
            "previous-key-after-valid-until",
            token(ok_claims, key=PREVIOUS_SECRET),
            inv,
            mode="rotated",
        )
    )
    return cases


def _ps256(claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    from jwt.algorithms import RSAPSSAlgorithm

    body = signing_input({"alg": "PS256"}, claims)
    sig = RSAPSSAlgorithm(RSAPSSAlgorithm.SHA256).sign(body.encode(), key)
    return f"{body}.{b64(sig)}"
