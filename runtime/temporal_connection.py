"""How every CloudGreet process connects to Temporal: one data converter, one set of search attributes,
one way to reach a cluster with TLS or Temporal Cloud (README.md, "Temporal Cloud / a TLS cluster")."""

from __future__ import annotations

import logging
import re

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from runtime.search_attributes import SEARCH_ATTRIBUTES
from runtime.settings import Settings
from runtime.tracing import temporal_plugins

log = logging.getLogger(__name__)


class TemporalConnectionError(RuntimeError):
    """Connecting failed, said so that a person knows what to change; the SDK's own words are the cause.

    A RuntimeError, as the SDK's connection failures are: callers that catch those keep working.
    """


async def connect_temporal(settings: Settings, runtime: Runtime | None = None) -> Client:
    """The one way in for the API, the worker, health checks and `cloudgreet calls show`."""
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    try:
        # A runtime of its own carries the worker's Temporal SDK metrics (runtime.metrics.serve_worker_metrics).
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.temporal_namespace,
            api_key=api_key,
            tls=temporal_tls(settings),
            data_converter=pydantic_data_converter,
            runtime=runtime,
            plugins=temporal_plugins(settings),
        )
    except RuntimeError as error:
        raise TemporalConnectionError(explain_connection_failure(settings, str(error))) from error


def temporal_tls(settings: Settings) -> TLSConfig | bool:
    """The SDK's TLS options; the files are read at each connection, so a restart picks up rotated ones."""
    if not settings.temporal_uses_tls:
        return False
    cert, key, ca = (
        settings.temporal_tls_client_cert_path,
        settings.temporal_tls_client_key_path,
        settings.temporal_tls_server_ca_cert_path,
    )
    return TLSConfig(
        # Without a CA of its own the system's roots verify the server (Temporal Cloud, public CAs).
        server_root_ca_cert=ca.read_bytes() if ca else None,
        domain=settings.temporal_tls_server_name,
        client_cert=cert.read_bytes() if cert else None,
        client_private_key=key.read_bytes() if key else None,
    )


# How the SDK reports a connection the server dropped. After a TLS 1.3 handshake a server that refuses
# the client's certificate sends an alert and hangs up, and the alert does not always reach the message.
_DROPPED = ("connection closed", "UnexpectedEof", "ConnectionReset", "BrokenPipe")


def explain_connection_failure(settings: Settings, sdk_message: str) -> str:
    """Reads the TLS failures out of the SDK's message (a dump of Rust errors: rustls's names are stable)."""
    where = f"Temporal at {settings.temporal_address}"
    ca, cert = settings.temporal_tls_server_ca_cert_path, settings.temporal_tls_client_cert_path
    dropped = any(sign in sdk_message for sign in _DROPPED)
    if not settings.temporal_uses_tls:
        if dropped:
            return (
                f"{where} hung up: if it takes TLS connections only, set TEMPORAL_TLS=true (or its other TLS settings)"
            )
        return f"could not connect to {where} (without TLS): {sdk_message}"
    if "UnknownIssuer" in sdk_message:
        if ca is not None:
            return f"{where} presented a TLS certificate that the CA in TEMPORAL_TLS_SERVER_CA_CERT_PATH ({ca}) did not sign"
        return (
            f"{where} presented a TLS certificate signed by no CA this machine trusts: "
            "set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA of your cluster"
        )
    if "NotValidForName" in sdk_message:
        presented = ", ".join(_names(sdk_message.partition("presented")[2])) or "other names"
        expected = settings.temporal_tls_server_name or settings.temporal_address.rpartition(":")[0]
        return (
            f"{where} presented a TLS certificate for {presented}, not for {expected}: "
            "connect by one of its names or set TEMPORAL_TLS_SERVER_NAME to one"
        )
    if "InvalidCertificate(Expired" in sdk_message:
        return f"{where} presented an expired TLS certificate"
    if "InvalidContentType" in sdk_message:
        return f"{where} does not speak TLS: use its TLS address, or set TEMPORAL_TLS=false for a cluster without TLS"
    set_client_certificate = "set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH"
    if cert is None and "CertificateRequired" in sdk_message:
        return f"{where} requires a client certificate (mTLS): {set_client_certificate}"
    if cert is None and dropped:
        return (
            f"{where} hung up after the TLS handshake, as a cluster does that requires a client certificate "
            f"(mTLS): {set_client_certificate}"
        )
    the_certificate = f"the client certificate in TEMPORAL_TLS_CLIENT_CERT_PATH ({cert})"
    refused = re.search(r"fatal alert: (UnknownCA|BadCertificate|CertificateUnknown|CertificateExpired)", sdk_message)
    if cert is not None and refused:
        reason = "it does not trust the CA that signed it" if refused[1] == "UnknownCA" else f"TLS alert {refused[1]}"
        return f"{where} refused {the_certificate}: {reason}"
    if cert is not None and dropped:
        return (
            f"{where} hung up after the TLS handshake, as a cluster does that refuses {the_certificate}: "
            "is it signed by a CA that the cluster trusts?"
        )
    return f"could not connect to {where} (with TLS): {sdk_message}"


def _names(rustls_debug: str) -> list[str]:
    """The names in rustls's `DnsName("host")` and `IpAddress(1.2.3.4)`, quotes escaped or not."""
    return re.findall(r'(?:DnsName\(\\*"|IpAddress\()([^"\\)]+)', rustls_debug)


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Registers the call search attributes where the server lets us (dev server, self-hosted)."""
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        missing = {
            key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
            for key in SEARCH_ATTRIBUTES
            if key.name not in existing.custom_attributes
        }
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
            )
    except Exception as error:  # noqa: BLE001  (Temporal Cloud refuses this; an operator registers them there)
        log.warning("could not register search attributes %s: %s", [k.name for k in SEARCH_ATTRIBUTES], error)
