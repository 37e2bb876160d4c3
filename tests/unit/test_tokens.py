"""Token verification: the S-1 attack corpus and the positive cases (AU-01..AU-23)."""

from __future__ import annotations

import base64
import time
from typing import Any

import jwt_corpus as jc
import pytest

from centripetal.config import schema
from centripetal.core.tokens import (
    MAX_KNOWN_HEADERS,
    ConnectTokenClaims,
    SubscribeOptionsClaim,
    SubscribeTokenClaims,
    TokenExpiredError,
    TokenInvalidError,
    TokenMismatchError,
    TokenVerifier,
    check_subscribe_claims,
    code_for,
)

CORPUS = jc.build()


class FakeJWKS:
    """In-memory ``JWKSKeySource``: kid -> (key, alg)."""

    def __init__(self, keys: dict[str, tuple[Any, str | None]]) -> None:
        self.keys = keys
        self.asked: list[str] = []

    async def get_key(self, kid: str) -> tuple[Any, str | None]:
        self.asked.append(kid)
        return self.keys[kid]


def jwks_source() -> FakeJWKS:
    k = jc.keys()
    return FakeJWKS(
        {
            "rsa-1": (k.rsa.public_key(), "RS256"),
            "rsa-any": (k.rsa.public_key(), None),
            "ec-1": (k.p256.public_key(), "ES256"),
            "ed-1": (k.ed25519.public_key(), None),
        }
    )


def verifier(mode: jc.Mode, **kwargs: Any) -> TokenVerifier:
    jwks = jwks_source() if mode == "jwks" else None
    return TokenVerifier(jc.config(mode), jwks=jwks, **kwargs)


# --- S-1 corpus ----------------------------------------------------------------------------


def test_corpus_size_and_coverage() -> None:
    # S-1 asks for at least 40 tokens covering every listed attack family.
    assert len(CORPUS) >= 40
    names = {c.name for c in CORPUS}
    assert len(names) == len(CORPUS)
    for required in (
        "alg-nOnE-unsigned",
        "hs256-with-rsa-pem",
        "hs256-with-rsa-der",
        "hs256-with-rsa-jwk",
        "huge-token",
        "duplicate-sub",
        "previous-key-after-valid-until",
        "kid-dev-null-jwks",
    ):
        assert required in names


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
async def test_corpus_token_rejected_with_exact_class_and_code(case: jc.Case) -> None:
    """S-1: 0 accepted; expired -> 109, invalid -> 3500 (connect) / 103 (subscribe)."""
    v = verifier(case.mode)
    call = v.verify_connect if case.kind == "connect" else v.verify_subscribe
    with pytest.raises((TokenExpiredError, TokenInvalidError)) as info:
        await call(case.token)
    assert type(info.value) is case.expected
    assert code_for(info.value, case.kind) == case.code


@pytest.mark.parametrize("mode", ["hmac", "aud_iss", "rotated", "rsa"])
async def test_corpus_rejected_the_same_once_headers_are_known(mode: jc.Mode) -> None:
    """One verifier for every case of a mode, after it accepted tokens whose headers the
    corpus reuses: a known header skips only its own decoding, never a check (AU-04..AU-06)."""
    v = verifier(mode)
    alg = "RS256" if mode == "rsa" else "HS256"
    key = jc.keys().rsa if mode == "rsa" else jc.HMAC_SECRET
    claims: dict[str, Any] = {"sub": "42", "exp": jc.future()}
    if mode == "aud_iss":
        claims.update(aud=jc.AUDIENCE, iss=jc.ISSUER)
    for header in ({"alg": alg, "typ": "JWT"}, {"alg": alg}):
        assert (await v.verify_connect(jc.token(claims, alg=alg, key=key, header=header))).user
    for case in (c for c in CORPUS if c.mode == mode):
        call = v.verify_connect if case.kind == "connect" else v.verify_subscribe
        with pytest.raises((TokenExpiredError, TokenInvalidError)) as info:
            await call(case.token)
        assert type(info.value) is case.expected, case.name


async def test_known_headers_are_bounded() -> None:
    v = verifier("hmac")
    for i in range(MAX_KNOWN_HEADERS * 3):
        header = {"alg": "HS256", "kid": f"key-{i}"}
        assert (await v.verify_connect(jc.token({"sub": "42"}, header=header))).user == "42"
        assert 1 <= len(v._headers) <= MAX_KNOWN_HEADERS


NOT_SIGNATURE_DEFECTS = [
    c
    for c in CORPUS
    if c.mode == "hmac"
    and (
        c.name.startswith(("alg-", "two-", "four-", "non-", "padded", "empty-token", "header-"))
        or c.name.startswith(("claims-", "huge", "exp-", "nbf", "connect-with", "sub"))
        or c.name in {"duplicate-sub", "b64info-invalid", "expire-at-float", "channels-not-list"}
    )
    and c.name != "exp-past-bad-signature"
]


@pytest.mark.parametrize("case", NOT_SIGNATURE_DEFECTS, ids=lambda c: c.name)
async def test_corpus_structural_defects_rejected_without_signature_check(case: jc.Case) -> None:
    """AU-07: skipping signatures never accepts alg none, malformed or expired tokens."""
    v = verifier("hmac", skip_signature=True)
    call = v.verify_connect if case.kind == "connect" else v.verify_subscribe
    with pytest.raises((TokenExpiredError, TokenInvalidError)) as info:
        await call(case.token)
    assert type(info.value) is case.expected


# --- code mapping ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "context", "code"),
    [
        (TokenExpiredError(), "connect", 109),
        (TokenInvalidError(), "connect", 3500),
        (TokenExpiredError(), "subscribe", 109),
        (TokenInvalidError(), "subscribe", 103),
        (TokenMismatchError(), "subscribe", 3500),
        (TokenExpiredError(), "refresh", 3005),
        (TokenInvalidError(), "refresh", 3500),
        (TokenInvalidError(), "sub_refresh", 3500),
        (TokenMismatchError(), "sub_refresh", 3500),
        (TokenExpiredError(), "sub_refresh", 109),
    ],
)
def test_code_for_p30_p31_p40_p41(error: Any, context: Any, code: int) -> None:
    assert code_for(error, context) == code


# --- positive cases: every algorithm family (AU-05) -------------------------------------------


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_hmac_algorithms_accepted(alg: str) -> None:
    claims = await verifier("hmac").verify_connect(jc.token({"sub": "7"}, alg=alg))
    assert claims == ConnectTokenClaims(user="7")


@pytest.mark.parametrize("alg", ["RS256", "RS384", "RS512"])
async def test_rsa_algorithms_accepted(alg: str) -> None:
    tok = jc.token({"sub": "r", "exp": jc.future()}, alg=alg, key=jc.keys().rsa)
    assert (await verifier("rsa").verify_connect(tok)).user == "r"


@pytest.mark.parametrize(("alg", "attr"), [("ES256", "p256"), ("ES384", "p384"), ("ES512", "p521")])
async def test_ecdsa_algorithm_follows_key_curve(alg: str, attr: str) -> None:
    k = jc.keys()
    key = getattr(k, attr)
    v = TokenVerifier(schema.TokenConfig(ecdsa_public_key=k.public_pem(key)))
    assert (await v.verify_connect(jc.token({"sub": "e"}, alg=alg, key=key))).user == "e"
    other = "ES384" if alg == "ES256" else "ES256"
    other_key = k.p384 if other == "ES384" else k.p256
    with pytest.raises(TokenInvalidError):
        await v.verify_connect(jc.token({"sub": "e"}, alg=other, key=other_key))


async def test_rsa_pem_certificate_is_accepted_as_key() -> None:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    k = jc.keys()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tokens")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(k.rsa.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(k.rsa, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    v = TokenVerifier(schema.TokenConfig(rsa_public_key=pem))
    assert (await v.verify_connect(jc.token({"sub": "c"}, alg="RS256", key=k.rsa))).user == "c"


async def test_jwks_keys_by_kid_for_rsa_ec_okp() -> None:
    k = jc.keys()
    source = jwks_source()
    v = TokenVerifier(jc.config("jwks"), jwks=source)
    cases = [
        ("rsa-1", "RS256", k.rsa),
        ("rsa-any", "RS512", k.rsa),
        ("ec-1", "ES256", k.p256),
        ("ed-1", "EdDSA", k.ed25519),
    ]
    for kid, alg, key in cases:
        tok = jc.token({"sub": kid}, alg=alg, key=key, header={"alg": alg, "kid": kid})
        assert (await v.verify_connect(tok)).user == kid
    assert source.asked == ["rsa-1", "rsa-any", "ec-1", "ed-1"]


async def test_jwks_alg_must_equal_jwk_alg_and_static_keys_unused() -> None:
    k = jc.keys()
    cfg = schema.TokenConfig(jwks_public_endpoint="https://k.example", hmac_secret_key="s" * 32)
    v = TokenVerifier(cfg, jwks=jwks_source())
    rs512 = jc.token({"sub": "x"}, alg="RS512", key=k.rsa, header={"alg": "RS512", "kid": "rsa-1"})
    with pytest.raises(TokenInvalidError, match="JWK alg"):
        await v.verify_connect(rs512)
    hs = jc.token({"sub": "x"}, key="s" * 32, header={"alg": "HS256", "kid": "rsa-1"})
    with pytest.raises(TokenInvalidError):
        await v.verify_connect(hs)  # AU-05: with JWKS the HMAC secret is not used
    es_on_rsa = jc.token(
        {"sub": "x"}, alg="ES256", key=k.p256, header={"alg": "ES256", "kid": "rsa-any"}
    )
    with pytest.raises(TokenInvalidError, match="does not match the key type"):
        await v.verify_connect(es_on_rsa)


def test_jwks_endpoint_without_source_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="jwks_public_endpoint"):
        TokenVerifier(schema.TokenConfig(jwks_public_endpoint="https://k.example"))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("rsa_public_key", "not a pem", "rsa_public_key"),
        ("ecdsa_public_key", "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----", "ecdsa"),
    ],
)
def test_bad_static_keys_name_the_config_key(field: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TokenVerifier(schema.TokenConfig(**{field: value}))


def test_rsa_key_configured_as_ecdsa_is_rejected() -> None:
    k = jc.keys()
    with pytest.raises(ValueError, match="ecdsa_public_key"):
        TokenVerifier(schema.TokenConfig(ecdsa_public_key=k.public_pem(k.rsa)))


# --- aud / iss (AU-06) ------------------------------------------------------------------------


async def test_audience_and_issuer_exact_match() -> None:
    v = verifier("aud_iss")
    tok = jc.token({"sub": "1", "aud": ["x", jc.AUDIENCE], "iss": jc.ISSUER})
    assert (await v.verify_connect(tok)).user == "1"


async def test_audience_and_issuer_regex_unanchored_like_go() -> None:
    cfg = schema.TokenConfig(
        hmac_secret_key=jc.HMAC_SECRET,
        audience_regex=r"^tenant-[a-z]+$",
        issuer_regex=r"issuer\.example",
    )
    v = TokenVerifier(cfg)
    ok = jc.token({"sub": "1", "aud": "tenant-abc", "iss": "https://issuer.example/x"})
    assert (await v.verify_connect(ok)).user == "1"
    for claims in (
        {"sub": "1", "aud": "tenant-ABC", "iss": "https://issuer.example"},
        {"sub": "1", "aud": "tenant-abc", "iss": "https://other.example"},
        {"sub": "1", "iss": "https://issuer.example"},
    ):
        with pytest.raises(TokenInvalidError):
            await v.verify_connect(jc.token(claims))


def test_audience_and_audience_regex_are_exclusive() -> None:
    with pytest.raises(ValueError, match="audience"):
        TokenVerifier(schema.TokenConfig(audience="a", audience_regex="a"))


# --- claims (AU-02, AU-20) --------------------------------------------------------------------


async def test_user_id_claim_dotted_path() -> None:
    cfg = schema.TokenConfig(hmac_secret_key=jc.HMAC_SECRET, user_id_claim="user.id")
    v = TokenVerifier(cfg)
    assert (await v.verify_connect(jc.token({"sub": "no", "user": {"id": "u9"}}))).user == "u9"
    assert (await v.verify_connect(jc.token({"user": {"id": 17}}))).user == "17"
    assert (await v.verify_connect(jc.token({"sub": "no"}))).user == ""
    with pytest.raises(TokenInvalidError):
        await v.verify_connect(jc.token({"user": {"id": ["x"]}}))


async def test_info_is_compact_raw_json_and_b64info_wins() -> None:
    v = verifier("hmac")
    c = await v.verify_connect(jc.token({"sub": "1", "info": {"name": "Ann", "n": [1, 2]}}))
    assert c.info == b'{"name":"Ann","n":[1,2]}'
    raw = base64.b64encode(b"\x00\xffbin").decode()
    c = await v.verify_connect(jc.token({"sub": "1", "info": {"a": 1}, "b64info": raw}))
    assert c.info == b"\x00\xffbin"
    c = await v.verify_connect(jc.token({"sub": "1", "info": "text", "meta": {"role": "x"}}))
    assert (c.info, c.meta) == (b'"text"', b'{"role":"x"}')


async def test_expire_at_semantics() -> None:
    v = verifier("hmac")
    exp = jc.future(100)
    assert (await v.verify_connect(jc.token({"sub": "1", "exp": exp}))).expire_at == exp
    tok = jc.token({"sub": "1", "exp": exp, "expire_at": exp + 50})
    assert (await v.verify_connect(tok)).expire_at == exp + 50
    tok = jc.token({"sub": "1", "exp": exp, "expire_at": 0})
    assert (await v.verify_connect(tok)).expire_at == 0
    assert (await v.verify_connect(jc.token({"sub": "1"}))).expire_at == 0
    # expire_at 0 never extends the token itself: exp still bounds validity.
    with pytest.raises(TokenExpiredError):
        await v.verify_connect(jc.token({"sub": "1", "exp": 5, "expire_at": 0}))
    # A float exp in the future is a valid NumericDate (RFC 7519), truncated.
    tok = jc.token({"sub": "1", "exp": exp + 0.75})
    assert (await v.verify_connect(tok)).expire_at == exp


async def test_injected_clock_decides_exp_and_nbf() -> None:
    v = TokenVerifier(jc.config("hmac"), clock=lambda: 1000.0)
    assert (await v.verify_connect(jc.token({"sub": "1", "exp": 1001, "nbf": 1000}))).user == "1"
    with pytest.raises(TokenExpiredError):
        await v.verify_connect(jc.token({"sub": "1", "exp": 1000}))
    with pytest.raises(TokenExpiredError):
        await v.verify_connect(jc.token({"sub": "1", "nbf": 1000.5}))


async def test_channels_subs_claims() -> None:
    v = verifier("hmac")
    claims = {
        "sub": "1",
        "channels": ["news", "chat:#1"],
        "subs": {
            "room:1": {
                "info": {"r": 1},
                "b64data": base64.b64encode(b"hi").decode(),
                "override": {"presence": {"value": False}, "force_recovery": {"value": True}},
            },
            "room:2": {},
        },
    }
    c = await v.verify_connect(jc.token(claims))
    assert c.channels == ["news", "chat:#1"]
    assert list(c.subs) == ["room:1", "room:2"]
    assert c.subs["room:1"] == SubscribeOptionsClaim(
        info=b'{"r":1}',
        data=b"hi",
        override=schema.Override(presence=False, force_recovery=True),
    )
    assert c.subs["room:2"] == SubscribeOptionsClaim()
    bad = {"sub": "1", "subs": {"a": {"override": {"presence": True}}}}
    with pytest.raises(TokenInvalidError, match="override"):
        await v.verify_connect(jc.token(bad))


async def test_subscription_token_claims() -> None:
    v = verifier("hmac")
    exp = jc.future()
    tok = jc.token(
        {
            "sub": "42",
            "channel": "$room",
            "client": "c-1",
            "exp": exp,
            "info": {"x": 1},
            "data": {"welcome": True},
            "override": {"join_leave": {"value": True}},
        }
    )
    assert await v.verify_subscribe(tok) == SubscribeTokenClaims(
        user="42",
        channel="$room",
        client="c-1",
        expire_at=exp,
        info=b'{"x":1}',
        data=b'{"welcome":true}',
        override=schema.Override(join_leave=True),
    )


async def test_previous_hmac_key_valid_until() -> None:
    now = 1_700_000_000.0
    cfg = schema.TokenConfig(
        hmac_secret_key=jc.HMAC_SECRET,
        hmac_previous_secret_key=jc.PREVIOUS_SECRET,
        hmac_previous_secret_key_valid_until=int(now) + 10,
    )
    tok = jc.token({"sub": "old"}, key=jc.PREVIOUS_SECRET)
    assert (await TokenVerifier(cfg, clock=lambda: now).verify_connect(tok)).user == "old"
    with pytest.raises(TokenInvalidError):
        await TokenVerifier(cfg, clock=lambda: now + 11).verify_connect(tok)
    forever = schema.TokenConfig(
        hmac_secret_key=jc.HMAC_SECRET, hmac_previous_secret_key=jc.PREVIOUS_SECRET
    )
    assert (await TokenVerifier(forever).verify_connect(tok)).user == "old"


async def test_skip_signature_accepts_any_signature_but_checks_claims() -> None:
    v = verifier("hmac", skip_signature=True)
    tok = jc.token({"sub": "dev"}, key="whatever")
    assert (await v.verify_connect(tok)).user == "dev"
    with pytest.raises(TokenInvalidError):
        await v.verify_connect(jc.token({"sub": "dev", "channel": "x"}, key="whatever"))


async def test_token_at_size_limit_is_still_parsed() -> None:
    v = verifier("hmac")
    base = jc.token({"sub": "1", "info": ""})
    pad = "x" * ((65536 - len(base)) * 3 // 4 - 8)
    tok = jc.token({"sub": "1", "info": pad})
    assert len(tok) <= 65536
    assert (await v.verify_connect(tok)).user == "1"


# --- check_subscribe_claims (AU-20, AU-21) -----------------------------------------------------


def test_check_subscribe_claims_mismatches() -> None:
    claims = SubscribeTokenClaims(user="42", channel="$a", client="c1")
    check_subscribe_claims(claims, "$a", "42", "c1")
    check_subscribe_claims(SubscribeTokenClaims(user="", channel="$a"), "$a", "", "any")
    for channel, user, client in (("$b", "42", "c1"), ("$a", "43", "c1"), ("$a", "42", "c2")):
        with pytest.raises(TokenMismatchError) as info:
            check_subscribe_claims(claims, channel, user, client)
        assert code_for(info.value, "subscribe") == 3500
        assert code_for(info.value, "sub_refresh") == 3500


async def test_verify_ignores_time_for_reading_and_uses_wall_clock_by_default() -> None:
    v = verifier("hmac")
    before = time.time()
    with pytest.raises(TokenExpiredError):
        await v.verify_connect(jc.token({"sub": "1", "exp": int(before) - 1}))
