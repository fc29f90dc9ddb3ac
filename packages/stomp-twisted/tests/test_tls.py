"""TLS: verified by default (CA, host name, SNI), client certificates, verification off."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL
from twisted.internet import ssl

from stomp_twisted import Client, ConnectFailed, TlsOptions
from stomp_twisted.testing import SimulatedBroker, SimulatedReactor

Maker = Callable[..., Client]


class Pki:
    """A test CA with a server certificate for ``broker.test`` and a client certificate."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stomp-twisted test CA")])
        self.ca = self._certificate(name, self.ca_key.public_key(), ca=True, names=[])
        self.ca_file = self._write("ca.pem", self._pem(self.ca))
        self.server_key, self.server = self._issue("broker.test")
        self.client_key, self.client = self._issue("client")
        self.client_cert_file = self._write("client.pem", self._pem(self.client))
        self.client_key_file = self._write("client.key", self._key_pem(self.client_key))
        self.client_both_file = self._write(
            "client-both.pem", self._pem(self.client) + self._key_pem(self.client_key)
        )

    def _certificate(
        self, subject: x509.Name, key: ec.EllipticCurvePublicKey, *, ca: bool, names: list[str]
    ) -> x509.Certificate:
        now = datetime.datetime.now(datetime.timezone.utc)
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stomp-twisted test CA")])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
        return builder.sign(self.ca_key, hashes.SHA256())

    def _issue(self, name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        return key, self._certificate(subject, key.public_key(), ca=False, names=[name])

    @staticmethod
    def _pem(certificate: x509.Certificate) -> bytes:
        return certificate.public_bytes(serialization.Encoding.PEM)

    @staticmethod
    def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def _write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path

    def server_options(self, *, require_client: bool = False) -> RecordingOptions:
        # cryptography objects: pyOpenSSL deprecates its own X509 and PKey.
        if not require_client:
            return RecordingOptions(privateKey=self.server_key, certificate=self.server)  # type: ignore[arg-type]
        return RecordingOptions(
            privateKey=self.server_key,  # type: ignore[arg-type]
            certificate=self.server,  # type: ignore[arg-type]
            verify=True,
            caCerts=[ssl.Certificate.loadPEM(self._pem(self.ca)).original],
            requireCertificate=True,
        )


class RecordingOptions(ssl.CertificateOptions):
    """Server options that record the SNI names clients send."""

    server_names: list[bytes | None]

    def getContext(self) -> SSL.Context:
        context: SSL.Context = super().getContext()
        if not hasattr(self, "server_names"):  # the context is made once, then reused
            self.server_names = []

            def record(connection: SSL.Connection) -> None:
                self.server_names.append(connection.get_servername())

            context.set_tlsext_servername_callback(record)
        return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def tls_broker(reactor: SimulatedReactor, pki: Pki, **options: bool) -> RecordingOptions:
    server = pki.server_options(**options)
    SimulatedBroker().listen(61614, interface="broker.test", reactor=reactor, tls=server)
    return server


def test_a_verified_tls_connection_sends_sni(
    reactor: SimulatedReactor, pki: Pki, new_client: Maker
) -> None:
    server = tls_broker(reactor, pki)
    client = new_client("ssl://broker.test:61614", tls=TlsOptions(ca_file=pki.ca_file))
    reactor.run_until(client.connect())
    reactor.run_until(client.send("/queue/a", b"secret", receipt=True))
    assert server.server_names == [b"broker.test"]
    assert reactor.run_until(client.disconnect()).receipt


def test_a_certificate_for_another_name_is_refused(
    reactor: SimulatedReactor, pki: Pki, new_client: Maker
) -> None:
    server = pki.server_options()
    SimulatedBroker().listen(61614, interface="other.test", reactor=reactor, tls=server)
    client = new_client(
        "ssl://other.test:61614?startupMaxReconnectAttempts=0", tls=TlsOptions(ca_file=pki.ca_file)
    )
    with pytest.raises(ConnectFailed) as caught:
        reactor.run_until(client.connect())
    assert type(caught.value.cause).__name__ == "VerificationError"  # service_identity's
    assert "other.test" in str(caught.value.cause)


def test_an_unknown_ca_is_refused_by_default(
    reactor: SimulatedReactor, pki: Pki, new_client: Maker
) -> None:
    tls_broker(reactor, pki)
    client = new_client("ssl://broker.test:61614?startupMaxReconnectAttempts=0")
    with pytest.raises(ConnectFailed):  # the platform's trust store knows nothing of it
        reactor.run_until(client.connect())


def test_server_hostname_names_the_certificate_to_expect(
    reactor: SimulatedReactor, pki: Pki, new_client: Maker
) -> None:
    server = pki.server_options()
    SimulatedBroker().listen(61614, interface="10.1.2.3", reactor=reactor, tls=server)
    client = new_client(
        "ssl://10.1.2.3:61614?serverHostname=broker.test", tls=TlsOptions(ca_file=pki.ca_file)
    )
    reactor.run_until(client.connect())
    assert server.server_names == [b"broker.test"]
    other = new_client(
        "ssl://10.1.2.3:61614",
        tls=TlsOptions(ca_file=pki.ca_file, server_hostname="broker.test"),
    )
    reactor.run_until(other.connect())


@pytest.mark.parametrize("split", [True, False])
def test_a_client_certificate_is_presented(
    reactor: SimulatedReactor, pki: Pki, new_client: Maker, split: bool
) -> None:
    tls_broker(reactor, pki, require_client=True)
    tls = (
        TlsOptions(
            ca_file=pki.ca_file, client_cert=pki.client_cert_file, client_key=pki.client_key_file
        )
        if split
        else TlsOptions(ca_file=pki.ca_file, client_cert=pki.client_both_file)
    )
    client = new_client("ssl://broker.test:61614", tls=tls)
    reactor.run_until(client.connect())
    without = new_client(
        "ssl://broker.test:61614?startupMaxReconnectAttempts=0",
        tls=TlsOptions(ca_file=pki.ca_file),
    )
    with pytest.raises(ConnectFailed):
        reactor.run_until(without.connect())


def test_turning_verification_off_is_explicit_and_logged(
    reactor: SimulatedReactor, pki: Pki, new_client: Maker, caplog: pytest.LogCaptureFixture
) -> None:
    server = tls_broker(reactor, pki, require_client=True)
    client = new_client(
        "ssl://broker.test:61614",
        tls=TlsOptions(verify=False, client_cert=pki.client_both_file),
    )
    with caplog.at_level(logging.WARNING, logger="stomp_twisted"):
        reactor.run_until(client.connect())
    assert "TLS verification is OFF for broker.test" in caplog.text
    assert server.server_names == [b"broker.test"]  # SNI all the same
    plain = tls_broker_on(reactor, pki, "10.9.9.9")
    anonymous = new_client("ssl://10.9.9.9:61614", tls=TlsOptions(verify=False))
    reactor.run_until(anonymous.connect())
    assert plain.server_names == [None]  # no SNI for an IP address


def tls_broker_on(reactor: SimulatedReactor, pki: Pki, host: str) -> RecordingOptions:
    server = pki.server_options()
    SimulatedBroker().listen(61614, interface=host, reactor=reactor, tls=server)
    return server


def test_tls_files_are_checked_when_the_client_is_made(
    new_client: Maker, pki: Pki, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="client_key needs client_cert"):
        TlsOptions(client_key=pki.client_key_file)
    with pytest.raises(OSError, match=r"missing\.pem"):
        new_client("ssl://h:1", tls=TlsOptions(ca_file=tmp_path / "missing.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ValueError, match="no PEM certificate"):
        new_client("ssl://h:1", tls=TlsOptions(ca_file=junk))
    with pytest.raises(ValueError, match="unusable PEM data"):
        new_client("ssl://h:1", tls=TlsOptions(client_cert=junk))
