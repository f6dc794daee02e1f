"""HTTP tasks over TLS: the server checks a receiver's certificate against the CA bundle it trusts, which
``SSL_CERT_FILE`` names (as for httpx, whose default TLS context the server's outbound clients share)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import AbstractContextManager

import httpx
import pytest
import trustme

from tests.conftest import LOCAL_RECEIVERS, running_server
from tests.outbound.receivers import Receiver, call_url, receiving

TRUSTED = trustme.CA()
UNKNOWN = trustme.CA()


@pytest.fixture(scope="module")
def trusting(server_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server whose outbound clients trust ``TRUSTED`` alone."""
    folder = tmp_path_factory.mktemp(f"tls-{server_store}")
    bundle = folder / "trusted.pem"
    TRUSTED.cert_pem.write_to_path(str(bundle))
    env = {**LOCAL_RECEIVERS, "SSL_CERT_FILE": str(bundle)}
    with running_server(server_store, folder, env) as process, process.client() as client:
        yield client


def _receiver_signed_by(ca: trustme.CA) -> AbstractContextManager[Receiver]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return receiving("127.0.0.1", context)


def test_a_receiver_with_a_trusted_certificate_is_called(trusting: httpx.Client) -> None:
    with _receiver_signed_by(TRUSTED) as receiver:
        task = call_url(trusting, f"{receiver.url}/over-tls", "COMPLETED")
        assert receiver.url.startswith("https://")
        assert task["outputData"]["response"]["body"]["path"] == "/over-tls"


def test_a_receiver_whose_certificate_no_trusted_ca_signed_is_refused(trusting: httpx.Client) -> None:
    with _receiver_signed_by(UNKNOWN) as receiver:
        task = call_url(trusting, f"{receiver.url}/over-tls", "FAILED")
        assert "CERTIFICATE_VERIFY_FAILED" in task["reasonForIncompletion"]
