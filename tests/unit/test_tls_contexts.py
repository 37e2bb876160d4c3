"""TLS contexts from the unified TLS object, without sockets (SV-01, PX-27, EN-03, EN-08).

PEM values as raw text, base64 and file paths; every refusal names its key path; the port
rules of ``http_server``; the Redis rules that depend on the client library; ``checkconfig``.
"""

from __future__ import annotations

import json
import os
import ssl
import tempfile
from pathlib import Path

import pytest
from support.certs import PKI, make_pki

from centripetal import cli, tls
from centripetal.config import ConfigError, config_from_mapping
from centripetal.config.schema import TLS, HTTPServer


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def unreadable_file(directory: Path) -> str:
    """A path that exists as a regular file but cannot be read: mode 000, or - for root, whom
    modes do not stop - ``/proc/self/mem``, whose first page always fails with EIO."""
    if os.geteuid() == 0:
        return "/proc/self/mem"
    path = directory / "unreadable.key"
    path.write_text("x")
    path.chmod(0)
    return str(path)


# -- PEM values (SV-01) -----------------------------------------------------------------------


def test_pem_value_raw_base64_and_file(pki: PKI) -> None:
    raw = tls.load_pem(pki.ca.cert_pem, "k")
    assert raw.file is None and raw.kinds == ("CERTIFICATE",)
    b64 = tls.load_pem(pki.ca.cert_b64, "k")
    assert b64.file is None and b64.data == raw.data
    from_file = tls.load_pem(str(pki.ca.cert), "k")
    assert from_file.file == str(pki.ca.cert) and from_file.data == raw.data
    key = tls.load_pem(pki.server.key_pem, "k")
    assert key.kinds == ("PRIVATE KEY",)


def test_pem_value_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        tls.load_pem("not pem at all", "http_server.tls.cert_pem")
    assert str(exc.value) == f"http_server.tls.cert_pem: {tls.PEM_INVALID}"
    with pytest.raises(ConfigError, match=r"^a\.key_pem: " + tls.PEM_INVALID):
        tls.load_pem(str(tmp_path / "missing.key"), "a.key_pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError) as exc:
        tls.load_pem(str(junk), "a.cert_pem")
    assert str(exc.value) == f"a.cert_pem: file {str(junk)!r} holds no valid PEM data"
    with pytest.raises(ConfigError, match=r"^a\.key_pem: cannot read file "):
        tls.load_pem(unreadable_file(tmp_path), "a.key_pem")


# -- listening sockets (SV-01) ----------------------------------------------------------------


def test_server_context_from_each_pem_form(pki: PKI) -> None:
    for cert, key in (
        (str(pki.server.cert), str(pki.server.key)),
        (pki.server.cert_pem, pki.server.key_pem),
        (pki.server.cert_b64, pki.server.key_b64),
    ):
        ctx = tls.server_context(TLS(enabled=True, cert_pem=cert, key_pem=key), "t")
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
        assert ctx.verify_mode == ssl.CERT_NONE


def test_inline_key_material_never_stays_on_disk(
    pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    tls.server_context(TLS(cert_pem=pki.server.cert_pem, key_pem=pki.server.key_b64), "t")
    assert list(tmp_path.iterdir()) == []


def test_client_ca_requires_client_certificates(pki: PKI) -> None:
    ctx = tls.server_context(
        TLS(
            cert_pem=str(pki.server.cert),
            key_pem=str(pki.server.key),
            client_ca_pem=str(pki.ca.cert),
        ),
        "t",
    )
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert len(ctx.get_ca_certs()) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"cert_pem": "CERT"}, r"^t\.key_pem: required together with t\.cert_pem$"),
        ({"key_pem": "KEY"}, r"^t\.cert_pem: required together with t\.key_pem$"),
        ({}, r"^t\.cert_pem: required when t\.enabled is true \(with key_pem\)$"),
        ({"cert_pem": "CERT", "key_pem": "garbage"}, r"^t\.key_pem: invalid PEM data"),
        ({"cert_pem": "KEY", "key_pem": "KEY"}, r"^t\.cert_pem: no CERTIFICATE block"),
        ({"cert_pem": "CERT", "key_pem": "CERT"}, r"^t\.key_pem: no PRIVATE KEY block"),
        (
            {"cert_pem": "CERT", "key_pem": "CLIENT_KEY"},
            r"^t\.key_pem: the private key does not match the certificate of t\.cert_pem$",
        ),
        ({"cert_pem": "CERT", "key_pem": "KEY", "client_ca_pem": "x"}, r"^t\.client_ca_pem: "),
    ],
)
def test_server_context_refusals(pki: PKI, fields: dict[str, str], message: str) -> None:
    values = {
        "CERT": str(pki.server.cert),
        "KEY": str(pki.server.key),
        "CLIENT_KEY": pki.client.key_pem,
    }
    obj = TLS(enabled=True, **{k: values.get(v, v) for k, v in fields.items()})
    with pytest.raises(ConfigError, match=message):
        tls.server_context(obj, "t")


def test_encrypted_key_is_refused_without_prompting(pki: PKI, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pki.server.key.read_bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    obj = TLS(cert_pem=pki.server.cert_pem, key_pem=encrypted.decode())
    with pytest.raises(ConfigError, match=r"^t\.key_pem: encrypted private keys are not supported"):
        tls.server_context(obj, "t")


def test_port_rules(pki: PKI) -> None:
    good = TLS(enabled=True, cert_pem=str(pki.server.cert), key_pem=str(pki.server.key))
    main, internal = tls.listener_contexts(HTTPServer(tls=good, internal_port=9001))
    assert main is not None and internal is main  # internal port follows tls
    main, internal = tls.listener_contexts(
        HTTPServer(tls=good, internal_port=9001, tls_external=True)
    )
    assert main is not None and internal is None  # TLS on the external port only
    main, internal = tls.listener_contexts(
        HTTPServer(internal_port=9001, internal_tls=good, tls_external=True)
    )
    assert main is None and internal is not None  # internal_tls wins
    assert tls.listener_contexts(HTTPServer()) == (None, None)
    broken = TLS(enabled=True, cert_pem=str(pki.server.cert))
    with pytest.raises(ConfigError, match=r"^http_server\.internal_tls\.key_pem: required"):
        tls.listener_contexts(HTTPServer(internal_tls=broken))  # checked even if unused


def test_autocert_is_refused() -> None:
    cfg = config_from_mapping({"http_server": {"tls_autocert": {"enabled": True}}})
    with pytest.raises(ConfigError) as exc:
        tls.listener_contexts(cfg.http_server)
    assert str(exc.value).startswith("http_server.tls_autocert.enabled: automatic certificates")
    flat = config_from_mapping({"port": 8000, "tls_autocert": True})
    with pytest.raises(ConfigError, match="not supported"):
        tls.listener_contexts(flat.http_server)


def test_v3_flat_keys_reach_the_tls_object(pki: PKI) -> None:
    """CFG-129, CFG-137, CFG-139: ``tls_cert``/``tls_key`` are file paths in v3 files."""
    cfg = config_from_mapping(
        {
            "port": 8000,
            "tls": True,
            "tls_cert": str(pki.server.cert),
            "tls_key": str(pki.server.key),
        }
    )
    main, internal = tls.listener_contexts(cfg.http_server)
    assert main is not None and internal is main


# -- outgoing sockets (PX-27, EN-03, EN-08) --------------------------------------------------


def test_client_context_verification_choices(pki: PKI) -> None:
    default = tls.client_context(TLS(enabled=True), "t")
    assert default.context.verify_mode == ssl.CERT_REQUIRED
    assert default.context.check_hostname and default.server_name is None
    own = tls.client_context(TLS(server_ca_pem=pki.ca.cert_b64, server_name="redis.internal"), "t")
    assert [c["subject"] for c in own.context.get_ca_certs()] == [
        ((("commonName", "centripetal test CA"),),)
    ]
    assert own.server_name == "redis.internal"
    skip = tls.client_context(TLS(insecure_skip_verify=True), "t")
    assert skip.context.verify_mode == ssl.CERT_NONE and not skip.context.check_hostname
    mutual = tls.client_context(
        TLS(
            server_ca_pem=str(pki.ca.cert), cert_pem=pki.client.cert_pem, key_pem=pki.client.key_pem
        ),
        "t",
    )
    assert mutual.context.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(ConfigError, match=r"^t\.server_ca_pem: invalid PEM data"):
        tls.client_context(TLS(server_ca_pem="nope"), "t")
    with pytest.raises(ConfigError, match=r"^t\.key_pem: required together with t\.cert_pem"):
        tls.client_context(TLS(cert_pem=pki.client.cert_pem), "t")


def proxy_config(endpoint: str, **http: object) -> dict[str, object]:
    return {"client": {"proxy": {"connect": {"enabled": True, "endpoint": endpoint, "http": http}}}}


def test_proxy_tls_objects(pki: PKI) -> None:
    cfg = config_from_mapping(
        proxy_config(
            "https://127.0.0.1:1/connect",
            tls={"enabled": True, "server_ca_pem": pki.ca.cert_pem, "server_name": "localhost"},
        )
    )
    [found] = tls.proxy_contexts(cfg).values()
    assert found.server_name == "localhost"
    assert cfg.client.proxy.connect.http.max_response_size == 1048576
    broken = config_from_mapping(
        proxy_config("https://x/connect", tls={"enabled": True, "server_ca_pem": "garbage"})
    )
    with pytest.raises(ConfigError, match=r"^client\.proxy\.connect\.http\.tls\.server_ca_pem: "):
        tls.proxy_contexts(broken)
    plain = config_from_mapping(proxy_config("http://x/connect", tls={"enabled": True}))
    with pytest.raises(ConfigError, match=r"is plain http:// .*use https://"):
        tls.proxy_contexts(plain)
    with pytest.raises(ConfigError, match=r"max_response_size: must be >= 0 bytes"):
        config_from_mapping(proxy_config("http://x/connect", max_response_size=-1))


def redis_config(redis: dict[str, object]) -> dict[str, object]:
    return {"engine": {"type": "redis", "redis": redis}}


def test_redis_tls_rules(pki: PKI) -> None:
    from centripetal.engines.redis import shard_addresses, shard_tls

    cfg = config_from_mapping(
        redis_config(
            {
                "address": ["rediss://127.0.0.1:6380", "redis://127.0.0.1:6381"],
                "tls": {"server_ca_pem": str(pki.ca.cert), "server_name": "localhost"},
            }
        )
    ).engine.redis
    first, second = (shard_tls(a, cfg, "engine.redis") for a in shard_addresses(cfg))
    assert second is None  # tls.enabled is off and the scheme is redis://
    assert first is not None and first.client.server_name is None  # rediss:// alone: defaults
    assert first.client.context.verify_mode == ssl.CERT_REQUIRED

    def refused(redis: dict[str, object], message: str) -> None:
        section = config_from_mapping(redis_config(redis)).engine.redis
        with pytest.raises(ConfigError, match=message):
            for address in shard_addresses(section):
                shard_tls(address, section, "engine.redis")

    refused(
        {
            "sentinel_address": ["127.0.0.1:26379"],
            "sentinel_master_name": "m",
            "tls": {"enabled": True},
        },
        r"^engine\.redis\.tls: TLS with Redis Sentinel is not supported",
    )
    refused({"sentinel_tls": {"enabled": True}}, r"^engine\.redis\.sentinel_tls: ")
    refused(
        {"cluster_address": ["127.0.0.1:7000"], "tls": {"enabled": True, "server_name": "r"}},
        r"^engine\.redis\.tls\.server_name: the Redis client cannot set a TLS server name",
    )
    refused(
        {
            "cluster_address": ["127.0.0.1:7000"],
            "tls": {
                "enabled": True,
                "cert_pem": pki.client.cert_pem,
                "key_pem": pki.client.key_pem,
            },
        },
        r"^engine\.redis\.tls\.cert_pem: Redis Cluster connections need the client certificate",
    )


# -- checkconfig (SV-15) ------------------------------------------------------------------------


def test_checkconfig_reports_tls_problems(
    pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config.json"
    good = {"http_server": {"tls": {"enabled": True, "cert_pem": "server.crt", "key_pem": ""}}}
    (tmp_path / "server.crt").write_text(pki.server.cert_pem)
    path.write_text(json.dumps(good))
    assert cli.main(["checkconfig", "-c", str(path)]) == 1
    assert capsys.readouterr().out == (
        "error: http_server.tls.key_pem: required together with http_server.tls.cert_pem\n"
    )
    good["http_server"]["tls"]["key_pem"] = pki.server.key_b64
    path.write_text(json.dumps(good))
    assert cli.main(["checkconfig", "-c", str(path)]) == 0
    path.write_text(
        json.dumps(
            {
                "broker": {
                    "enabled": True,
                    "type": "nats",
                    "nats": {"tls": {"enabled": True, "server_ca_pem": "x"}},
                }
            }
        )
    )
    assert cli.main(["checkconfig", "-c", str(path)]) == 1
    assert capsys.readouterr().out.startswith("error: broker.nats.tls.server_ca_pem: invalid PEM")
