"""CloudGreet's processes reach a Temporal cluster that speaks TLS, with or without a client
certificate, and say what is wrong when they cannot.

The dev server has no TLS of its own (`temporal server start-dev --help`), so a TLS-terminating
TCP proxy stands in front of it, as a load balancer does in front of a real cluster. Its CA, its
server certificate and a client certificate are made afresh for each test run.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import select
import socket
import ssl
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import ValidationError
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest

from runtime.temporal_connection import TemporalConnectionError, connect_temporal
from tests.conftest import ROOT
from tests.in_process import make_settings, served_api
from tests.waiting import eventually
from worker import build_worker


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


class CertificateAuthority:
    """A throwaway CA that signs server and client certificates into a folder."""

    def __init__(self, folder: Path, name: str = "CloudGreet test CA") -> None:
        self._folder = folder
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._name = subject
        self._certificate = (
            self._builder(subject, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.cert = folder / f"{name.replace(' ', '-').lower()}.pem"
        self.cert.write_bytes(self._certificate.public_bytes(serialization.Encoding.PEM))

    def server(self, name: str = "localhost", *, with_loopback_ip: bool = True, expired: bool = False) -> Certificate:
        alt_names: list[x509.GeneralName] = [x509.DNSName(name)]
        if with_loopback_ip:
            alt_names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        return self._issue(name, ExtendedKeyUsageOID.SERVER_AUTH, alt_names, expired=expired)

    def client(self, name: str = "cloudgreet-worker") -> Certificate:
        return self._issue(name, ExtendedKeyUsageOID.CLIENT_AUTH, [x509.DNSName(name)])

    def _issue(
        self, name: str, usage: x509.ObjectIdentifier, alt_names: list[x509.GeneralName], *, expired: bool = False
    ) -> Certificate:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            self._builder(subject, key.public_key(), expired=expired)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        stem = f"{name}-expired" if expired else name
        issued = Certificate(cert=self._folder / f"{stem}.pem", key=self._folder / f"{stem}.key")
        issued.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        issued.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return issued

    def _builder(
        self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey, *, expired: bool = False
    ) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC) - (datetime.timedelta(days=2) if expired else datetime.timedelta())
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )


class TlsTerminatingProxy:
    """Speaks TLS (ALPN h2, as a Temporal frontend does) on a loopback port and plain TCP to `upstream`.

    Threads and blocking sockets rather than asyncio: the ssl module then sends the TLS alert that
    tells a refused client why (asyncio drops it), and a test may block on an HTTP request to the
    API while the proxy carries the API's gRPC traffic.
    """

    def __init__(self, upstream: str, server: Certificate, client_ca: Path | None = None) -> None:
        host, port = upstream.rsplit(":", 1)
        self._upstream = (host, int(port))
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(server.cert, server.key)
        self._context.set_alpn_protocols(["h2"])
        if client_ca is not None:
            # mTLS: only clients with a certificate from this CA get through.
            self._context.load_verify_locations(client_ca)
            self._context.verify_mode = ssl.CERT_REQUIRED
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._accept, name="tls-proxy", daemon=True)]

    def __enter__(self) -> TlsTerminatingProxy:
        self._threads[0].start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        for thread in list(self._threads):
            thread.join(timeout=10)
        self._listener.close()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)  # a blocked accept() would not notice the listener closing
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed
            relay = threading.Thread(target=self._relay, args=(connection,), name="tls-proxy-relay", daemon=True)
            self._threads.append(relay)
            relay.start()

    def _relay(self, connection: socket.socket) -> None:
        try:
            # The handshake; a client the context refuses gets its TLS alert here.
            outside = self._context.wrap_socket(connection, server_side=True)
        except (ssl.SSLError, OSError):
            _close_after_alert(connection)
            return
        with outside, socket.create_connection(self._upstream) as inside:
            outside.setblocking(False)
            inside.setblocking(False)
            while not self._stopping.is_set():
                ready = [outside] if outside.pending() else select.select([outside, inside], [], [], 0.1)[0]
                for source, target in ((outside, inside), (inside, outside)):
                    if source not in ready:
                        continue
                    try:
                        data = source.recv(65536)
                    except (ssl.SSLWantReadError, BlockingIOError):
                        continue
                    except OSError:
                        return
                    if not data or not _send_all(target, data):
                        return


def _close_after_alert(connection: socket.socket) -> None:
    """Lets the refused client read the TLS alert: closing with its unread bytes would reset the connection."""
    try:
        connection.shutdown(socket.SHUT_WR)
        connection.settimeout(5)
        while connection.recv(65536):
            pass
    except OSError:
        pass
    finally:
        connection.close()


def _send_all(target: socket.socket, data: bytes) -> bool:
    view = memoryview(data)
    while view:
        try:
            view = view[target.send(view) :]
        except (ssl.SSLWantWriteError, BlockingIOError):
            select.select([], [target], [], 1)
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    """Another CA: what it signs, our server and clients do not trust."""
    return CertificateAuthority(tmp_path_factory.mktemp("stranger-tls"), "Stranger CA")


@pytest.fixture
def dev_server(temporal) -> str:
    """The plain (no TLS) Temporal dev server of the test session."""
    return temporal.client.service_client.config.target_host


def client_certificate(certificate: Certificate) -> dict[str, str]:
    return {
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(certificate.cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(certificate.key),
    }


async def connection_failure(**settings: str) -> str:
    with pytest.raises(TemporalConnectionError) as failed:
        await connect_temporal(make_settings(**settings))
    return str(failed.value)


async def test_a_worker_trusting_the_cluster_ca_polls_its_task_queue_through_tls(
    dev_server: str, authority: CertificateAuthority, temporal, database_url: str
) -> None:
    task_queue = f"tls-{uuid.uuid4().hex[:8]}"
    with TlsTerminatingProxy(dev_server, authority.server()) as proxy:
        settings = make_settings(
            TEMPORAL_ADDRESS=proxy.address,
            TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(authority.cert),
            TEMPORAL_TASK_QUEUE=task_queue,
            TELNYX_API_KEY="unused-key",
            DATABASE_URL=database_url,
        )
        worker = await build_worker(settings)
        running = asyncio.create_task(worker.run())
        try:
            # The dev server sees the worker's long polls, which came to it through the TLS proxy only.
            await eventually(
                lambda: temporal.client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace="default",
                        task_queue=TaskQueue(name=task_queue),
                        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                    )
                ),
                lambda described: len(described.pollers) > 0,
                what="a poller on the worker's task queue",
            )
        finally:
            await worker.shutdown()
            await running


def test_the_api_is_ready_through_tls_with_the_ca_and_says_why_not_without_it(
    dev_server: str, authority: CertificateAuthority, database_url: str
) -> None:
    with TlsTerminatingProxy(dev_server, authority.server()) as proxy:
        trusting = make_settings(
            TEMPORAL_ADDRESS=proxy.address,
            TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(authority.cert),
            DATABASE_URL=database_url,
        )
        with served_api(trusting) as api:
            assert httpx.get(f"{api}/api/health/ready", timeout=30).status_code == 200

        # TLS on, but only the system's CAs: our throwaway CA is not among them.
        untrusting = make_settings(TEMPORAL_ADDRESS=proxy.address, TEMPORAL_TLS="true", DATABASE_URL=database_url)
        with served_api(untrusting) as api:
            answer = httpx.get(f"{api}/api/health/ready", timeout=30)
    assert answer.status_code == 503
    detail = answer.json()["dependencies"]["temporal"]["detail"]
    assert f"Temporal at {proxy.address} presented a TLS certificate signed by no CA this machine trusts" in detail
    assert "TEMPORAL_TLS_SERVER_CA_CERT_PATH" in detail


async def test_a_cluster_that_requires_a_client_certificate(
    dev_server: str, authority: CertificateAuthority, stranger: CertificateAuthority
) -> None:
    with TlsTerminatingProxy(dev_server, authority.server(), client_ca=authority.cert) as proxy:
        trusted = {"TEMPORAL_ADDRESS": proxy.address, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(authority.cert)}

        client = await connect_temporal(make_settings(**trusted, **client_certificate(authority.client())))
        assert (await client.workflow_service.get_system_info(GetSystemInfoRequest())).server_version

        # After a TLS 1.3 handshake the refusal comes as an alert and a hang-up; the SDK reports either.
        without = await connection_failure(**trusted)
        assert without.startswith(f"Temporal at {proxy.address} ")
        assert without.endswith(
            "client certificate (mTLS): set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH"
        )

        foreign = stranger.client("someone-else")
        refused = await connection_failure(**trusted, **client_certificate(foreign))
        assert refused.startswith(f"Temporal at {proxy.address} ")
        assert f"the client certificate in TEMPORAL_TLS_CLIENT_CERT_PATH ({foreign.cert}): " in refused
        assert refused.endswith(("it does not trust the CA that signed it", "signed by a CA that the cluster trusts?"))


async def test_an_api_key_turns_tls_on(dev_server: str, authority: CertificateAuthority) -> None:
    # The proxy speaks nothing but TLS: a connection without it would fail.
    with TlsTerminatingProxy(dev_server, authority.server()) as proxy:
        settings = make_settings(
            TEMPORAL_ADDRESS=proxy.address,
            TEMPORAL_API_KEY="a-temporal-cloud-api-key",
            TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(authority.cert),
        )
        client = await connect_temporal(settings)
        assert (await client.workflow_service.get_system_info(GetSystemInfoRequest())).server_version


async def test_the_server_name_override_verifies_a_certificate_for_another_name(
    dev_server: str, authority: CertificateAuthority
) -> None:
    # A cluster reached by IP address (or through a tunnel) whose certificate names its DNS name only.
    named = authority.server("temporal.internal", with_loopback_ip=False)
    with TlsTerminatingProxy(dev_server, named) as proxy:
        trusted = {"TEMPORAL_ADDRESS": proxy.address, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(authority.cert)}
        assert await connection_failure(**trusted) == (
            f"Temporal at {proxy.address} presented a TLS certificate for temporal.internal, not for 127.0.0.1: "
            "connect by one of its names or set TEMPORAL_TLS_SERVER_NAME to one"
        )
        client = await connect_temporal(make_settings(**trusted, TEMPORAL_TLS_SERVER_NAME="temporal.internal"))
        assert (await client.workflow_service.get_system_info(GetSystemInfoRequest())).server_version


async def test_a_ca_that_did_not_sign_the_server_certificate_is_named(
    dev_server: str, authority: CertificateAuthority, stranger: CertificateAuthority
) -> None:
    with TlsTerminatingProxy(dev_server, authority.server()) as proxy:
        assert await connection_failure(
            TEMPORAL_ADDRESS=proxy.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(stranger.cert)
        ) == (
            f"Temporal at {proxy.address} presented a TLS certificate that the CA in "
            f"TEMPORAL_TLS_SERVER_CA_CERT_PATH ({stranger.cert}) did not sign"
        )


async def test_an_expired_server_certificate_is_named(dev_server: str, authority: CertificateAuthority) -> None:
    with TlsTerminatingProxy(dev_server, authority.server(expired=True)) as proxy:
        assert await connection_failure(
            TEMPORAL_ADDRESS=proxy.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(authority.cert)
        ) == (f"Temporal at {proxy.address} presented an expired TLS certificate")


async def test_a_client_without_tls_against_a_cluster_with_tls_is_told_to_turn_it_on(
    dev_server: str, authority: CertificateAuthority
) -> None:
    with TlsTerminatingProxy(dev_server, authority.server()) as proxy:
        assert await connection_failure(TEMPORAL_ADDRESS=proxy.address) == (
            f"Temporal at {proxy.address} hung up: if it takes TLS connections only, set TEMPORAL_TLS=true "
            "(or its other TLS settings)"
        )


async def test_tls_against_a_server_without_tls_says_so(dev_server: str) -> None:
    assert await connection_failure(TEMPORAL_ADDRESS=dev_server, TEMPORAL_TLS="true") == (
        f"Temporal at {dev_server} does not speak TLS: use its TLS address, or set TEMPORAL_TLS=false for a "
        "cluster without TLS"
    )


def test_a_key_that_is_not_the_certificates_is_refused_at_startup(authority: CertificateAuthority) -> None:
    mine, other = authority.client("mine"), authority.client("other")
    with pytest.raises(ValidationError) as refused:
        make_settings(TEMPORAL_TLS_CLIENT_CERT_PATH=str(mine.cert), TEMPORAL_TLS_CLIENT_KEY_PATH=str(other.key))
    assert f"TEMPORAL_TLS_CLIENT_KEY_PATH: {other.key} is not the private key of the certificate {mine.cert}" in str(
        refused.value
    )


def test_a_certificate_and_key_given_the_wrong_way_round_are_refused_at_startup(
    authority: CertificateAuthority,
) -> None:
    mine = authority.client("swapped")
    with pytest.raises(ValidationError) as refused:
        make_settings(TEMPORAL_TLS_CLIENT_CERT_PATH=str(mine.key), TEMPORAL_TLS_CLIENT_KEY_PATH=str(mine.cert))
    assert f"TEMPORAL_TLS_CLIENT_CERT_PATH: {mine.key} holds no usable PEM certificate" in str(refused.value)


def test_an_encrypted_key_is_refused_at_startup(authority: CertificateAuthority, tmp_path: Path) -> None:
    mine = authority.client("encrypted")
    key = serialization.load_pem_private_key(mine.key.read_bytes(), password=None)
    locked = tmp_path / "locked.key"
    locked.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    with pytest.raises(ValidationError) as refused:
        make_settings(TEMPORAL_TLS_CLIENT_CERT_PATH=str(mine.cert), TEMPORAL_TLS_CLIENT_KEY_PATH=str(locked))
    assert f"{locked} is encrypted; give the key without a passphrase" in str(refused.value)


def test_a_ca_file_without_a_certificate_is_refused_at_startup(authority: CertificateAuthority) -> None:
    mine = authority.client("not-a-ca")
    with pytest.raises(ValidationError) as refused:
        make_settings(TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(mine.key))
    assert f"TEMPORAL_TLS_SERVER_CA_CERT_PATH: {mine.key} holds no usable PEM certificate" in str(refused.value)


def test_the_worker_will_not_start_with_a_client_certificate_but_no_key(
    authority: CertificateAuthority, tmp_path: Path
) -> None:
    keyless = authority.client("keyless")
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TEMPORAL_")}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    environment["TEMPORAL_TLS_CLIENT_CERT_PATH"] = str(keyless.cert)
    result = subprocess.run(
        [sys.executable, "-m", "cloudgreet.cli", "worker"],
        capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-2:] == [
        "The configuration is not valid:",
        "  Value error, TEMPORAL_TLS_CLIENT_CERT_PATH is set but TEMPORAL_TLS_CLIENT_KEY_PATH is not: "
        "a client certificate (mTLS) needs both the certificate and its private key",
    ]
