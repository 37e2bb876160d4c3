"""Throwaway certificates for the TLS tests (SV-01, PX-27, EN-03, EN-08).

``make_pki(directory)`` writes a fresh CA, a server certificate for ``localhost`` and
``127.0.0.1`` (SAN), a client certificate, and a second unrelated CA ("other"), each as PEM
files, and returns their paths and texts. Keys are EC P-256: quick to make, valid for a day.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["PKI", "Pair", "make_pki"]


@dataclass(frozen=True)
class Pair:
    """A certificate and its key, as files and as PEM text."""

    cert: Path
    key: Path

    @property
    def cert_pem(self) -> str:
        return self.cert.read_text()

    @property
    def key_pem(self) -> str:
        return self.key.read_text()

    @property
    def cert_b64(self) -> str:
        return base64.b64encode(self.cert.read_bytes()).decode()

    @property
    def key_b64(self) -> str:
        return base64.b64encode(self.key.read_bytes()).decode()


@dataclass(frozen=True)
class PKI:
    """What ``make_pki`` wrote."""

    directory: Path
    ca: Pair
    server: Pair  # CN localhost, SAN DNS:localhost, IP:127.0.0.1, signed by ``ca``
    client: Pair  # CN test-client, client auth, signed by ``ca``
    other_ca: Pair  # an unrelated CA: nothing here is signed by it
    other_server: Pair  # a server certificate for 127.0.0.1 signed by ``other_ca``

    def client_context(self, *, with_cert: bool = False) -> ssl.SSLContext:
        """A client context trusting ``ca`` only, optionally presenting ``client``."""
        ctx = ssl.create_default_context(cafile=str(self.ca.cert))
        if with_cert:
            ctx.load_cert_chain(str(self.client.cert), str(self.client.key))
        return ctx


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> Pair:
    cert_path = directory / f"{stem}.crt"
    key_path = directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return Pair(cert_path, key_path)


def _builder(
    subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _ca(
    directory: Path, stem: str, name: str
) -> tuple[Pair, x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    subject = _name(name)
    cert = (
        _builder(subject, subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _write(directory, stem, cert, key), cert, key


def _leaf(
    directory: Path,
    stem: str,
    common_name: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    server: bool,
) -> Pair:
    ca_cert, ca_key = ca
    key = _key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(_name(common_name), ca_cert.subject, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    return _write(directory, stem, cert, key)


def make_pki(directory: Path) -> PKI:
    """Write the test CA, server, client and the unrelated CA into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_cert, ca_key = _ca(directory, "ca", "centripetal test CA")
    other, other_cert, other_key = _ca(directory, "other-ca", "unrelated test CA")
    return PKI(
        directory=directory,
        ca=ca,
        server=_leaf(directory, "server", "localhost", (ca_cert, ca_key), server=True),
        client=_leaf(directory, "client", "test-client", (ca_cert, ca_key), server=False),
        other_ca=other,
        other_server=_leaf(
            directory, "other-server", "localhost", (other_cert, other_key), server=True
        ),
    )
