"""A throw-away certificate authority for the lab's HTTPS servers.

Real clients (azure-core, MSAL, the kubernetes client, kubectl, Node) refuse plain HTTP for
bearer tokens, so every lab server speaks TLS with a certificate from this CA. Clients are
pointed at ``ca.pem`` through the standard variables (REQUESTS_CA_BUNDLE, SSL_CERT_FILE,
NODE_EXTRA_CA_CERTS) or the kubeconfig's certificate-authority-data.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class ServerCert:
    cert_pem: bytes
    key_pem: bytes


class LabCA:
    """A CA key and certificate, plus one server certificate for 127.0.0.1/localhost."""

    def __init__(self) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("wi lab CA"))
            .issuer_name(_name("wi lab CA"))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)
        self.server = self._issue_server_cert()
        self._tmp = tempfile.TemporaryDirectory(prefix="wi-lab-tls-")
        self._chain_file = Path(self._tmp.name) / "server.pem"
        self._key_file = Path(self._tmp.name) / "server.key"
        self._chain_file.write_bytes(self.server.cert_pem)
        self._key_file.write_bytes(self.server.key_pem)
        self._key_file.chmod(0o600)

    def _issue_server_cert(self) -> ServerCert:
        now = dt.datetime.now(dt.timezone.utc)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("localhost"))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return ServerCert(
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self._chain_file, self._key_file)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this CA (for the lab's own outbound fetches)."""
        ctx = ssl.create_default_context(cadata=self.cert_pem.decode())
        return ctx

    def write_ca(self, path: Path) -> Path:
        path.write_bytes(self.cert_pem)
        return path
