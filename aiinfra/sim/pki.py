"""Certificates and keys of the simulated control plane.

One self-signed CA signs the kube-apiserver serving certificate (valid for
127.0.0.1, localhost and the in-cluster service names) and one client
certificate, ``admin`` in group ``system:masters``, which every component and
the user share through one kubeconfig. A separate RSA key pair signs
service-account tokens. Files are written once; a second call reuses them.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from aiinfra.sim.pki import ensure_pki
    >>> p = ensure_pki(Path(tempfile.mkdtemp()) / "pki")
    >>> p.ca_cert.name, p.complete()
    ('ca.crt', True)
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALID_DAYS = 365


@dataclass(frozen=True)
class Pki:
    """Paths of every PEM file the control plane uses."""

    dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.dir / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.dir / "apiserver.crt"

    @property
    def server_key(self) -> Path:
        return self.dir / "apiserver.key"

    @property
    def admin_cert(self) -> Path:
        return self.dir / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.dir / "admin.key"

    @property
    def kubelet_cert(self) -> Path:
        """Serving certificate of the kubelet streaming server (kwok --server-address) for process nodes."""
        return self.dir / "kubelet.crt"

    @property
    def kubelet_key(self) -> Path:
        return self.dir / "kubelet.key"

    @property
    def kubelet_client_cert(self) -> Path:
        """The apiserver's client certificate towards kubelets (logs, port-forward)."""
        return self.dir / "apiserver-kubelet-client.crt"

    @property
    def kubelet_client_key(self) -> Path:
        return self.dir / "apiserver-kubelet-client.key"

    @property
    def sa_key(self) -> Path:
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.dir / "sa.pub"

    def complete(self) -> bool:
        files = (
            self.ca_cert,
            self.ca_key,
            self.server_cert,
            self.server_key,
            self.admin_cert,
            self.admin_key,
            self.kubelet_cert,
            self.kubelet_key,
            self.kubelet_client_cert,
            self.kubelet_client_key,
            self.sa_key,
            self.sa_pub,
        )
        return all(f.is_file() for f in files)


def ensure_pki(directory: Path) -> Pki:
    """Create the CA, serving, client and service-account keys under ``directory`` unless present."""
    pki = Pki(directory)
    if pki.complete():
        return pki
    directory.mkdir(parents=True, exist_ok=True)
    ca = _Issuer()
    server_sans: list[x509.GeneralName] = [
        x509.DNSName(n)
        for n in (
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
    ]
    server_sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ("127.0.0.1", "10.96.0.1")]
    kubelet_sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    server, client = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    leaves = {
        (pki.server_key, pki.server_cert): ca.leaf(_name("kube-apiserver"), server, server_sans),
        (pki.admin_key, pki.admin_cert): ca.leaf(_name("admin", "system:masters"), client),
        (pki.kubelet_key, pki.kubelet_cert): ca.leaf(_name("kubelet"), server, kubelet_sans),
        (pki.kubelet_client_key, pki.kubelet_client_cert): ca.leaf(
            _name("kube-apiserver-kubelet-client", "system:masters"), client
        ),
    }
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = serialization.Encoding.PEM
    _write_key(pki.ca_key, ca.key)
    _write_key(pki.sa_key, sa_key)
    for (key_path, cert_path), (key, cert) in leaves.items():
        _write_key(key_path, key)
        cert_path.write_bytes(cert.public_bytes(pem))
    pki.sa_pub.write_bytes(sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo))
    pki.ca_cert.write_bytes(ca.cert.public_bytes(pem))  # written last: complete() keys on it
    return pki


class _Issuer:
    """A fresh self-signed EC CA, valid from five minutes ago (clock skew) for _VALID_DAYS."""

    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
        self.until = self.now + datetime.timedelta(days=_VALID_DAYS)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name("aiinfra-sim-ca")
        usage = x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
            decipher_only=False,
        )  # fmt: skip
        self.cert = (
            self._builder(self.name, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def _builder(self, subject: x509.Name, public_key: Any) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now)
            .not_valid_after(self.until)
        )

    def leaf(
        self, subject: x509.Name, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName] | None = None
    ) -> tuple[Any, x509.Certificate]:
        """A new key and its certificate for ``usage`` (server or client auth), signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            self._builder(subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, builder.sign(self.key, hashes.SHA256())


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _write_key(path: Path, key: Any) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def write_kubeconfig(path: Path, pki: Pki, server: str, cluster: str = "aiinfra-sim") -> Path:
    """Write a kubeconfig for the admin user with embedded-by-path certificates."""
    text = f"""apiVersion: v1
kind: Config
clusters:
- name: {cluster}
  cluster:
    server: {server}
    certificate-authority: {pki.ca_cert}
users:
- name: admin
  user:
    client-certificate: {pki.admin_cert}
    client-key: {pki.admin_key}
contexts:
- name: {cluster}
  context: {{cluster: {cluster}, user: admin}}
current-context: {cluster}
"""
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path
