"""The API's certificate, read from a real HTTPS sandbox on 127.0.0.1 with certificates made here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.core.config import load_config
from kiosk.fleet.checks import tls_check
from kiosk.fleet.model import FAIL, OK, WARN
from kiosk.fleet.report import Sources, collect_report
from tests.fleet.conftest import Certificates, Sandbox, kiosk_diag, make_certificates, start_sandbox, write_config

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def https_kiosk(tmp_path: Path) -> Iterator[Callable[..., tuple[Path, Certificates, Sandbox]]]:
    """An HTTPS sandbox whose certificate ends `days` from now (negative: already expired)."""
    started: list[Sandbox] = []

    def make(days: float, trusted: bool = True) -> tuple[Path, Certificates, Sandbox]:
        not_after = NOW + dt.timedelta(days=days)
        certificates = make_certificates(tmp_path / "certs", min(NOW, not_after) - dt.timedelta(days=30), not_after,
                                         trusted)
        sandbox = start_sandbox(tmp_path / "sandbox", tls=certificates.server_context())
        started.append(sandbox)
        url = sandbox.url.replace("http://", "https://")
        return write_config(tmp_path, url, sandbox.public_key, devices={}), certificates, sandbox

    yield make
    for sandbox in started:
        sandbox.server.stop()


@pytest.mark.parametrize(("days", "trusted", "status", "value"), [
    (90, True, OK, "valid until"),
    (5, True, WARN, "expires in 5 days"),
    (-1, True, FAIL, "expired on"),
    (90, False, FAIL, "not trusted"),
])
def test_certificate_expiry_and_trust(https_kiosk, days, trusted, status, value):
    path, certificates, _sandbox = https_kiosk(days, trusted)
    report = collect_report(load_config(path), Sources(ca_file=str(certificates.ca_file)))
    tls = report.check("tls")
    assert tls.status == status and tls.value.startswith(value), tls
    expected_end = (NOW + dt.timedelta(days=days)).date().isoformat()
    assert tls.raw["not_after"] is not None
    assert dt.datetime.fromtimestamp(tls.raw["not_after"], dt.UTC).date().isoformat() == expected_end
    assert tls.raw["verified"] is (status != FAIL)
    # The API check goes over the same TLS: it works exactly when the certificate is acceptable.
    assert (report.check("api").status == OK) is (status != FAIL)


def test_diag_warns_about_a_certificate_that_expires_soon(https_kiosk):
    path, certificates, _sandbox = https_kiosk(5)
    result = kiosk_diag(path, env={"REQUESTS_CA_BUNDLE": str(certificates.ca_file)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "- tls: The API's certificate expires on" in result.stdout
    assert "- api:" not in result.stdout  # still trusted: the API answers


def test_diag_fails_on_an_expired_certificate(https_kiosk):
    path, certificates, _sandbox = https_kiosk(-2)
    result = kiosk_diag(path, env={"REQUESTS_CA_BUNDLE": str(certificates.ca_file)})
    assert result.returncode == 1
    assert "[FAIL] tls" in result.stdout and "expired on" in result.stdout
    assert "TLS handshake refused" in result.stdout  # and the API check says why it cannot connect


def test_plain_http_is_fine_on_loopback_and_a_warning_elsewhere():
    now = NOW.timestamp()
    assert tls_check("http://127.0.0.1:8480", None, 21, now).status == OK
    assert tls_check("http://localhost:8480", None, 21, now).status == OK
    remote = tls_check("http://api.sanandres.gob.mx", None, 21, now)
    assert remote.status == WARN and "https://" in remote.explanation


def test_an_unreachable_https_api_is_not_checked_but_says_so(tmp_path):
    from tests.fleet.conftest import free_port

    path = write_config(tmp_path, f"https://127.0.0.1:{free_port()}", devices={})
    tls = collect_report(load_config(path)).check("tls")
    assert tls.status == WARN and tls.value == "not checked (connection refused)"
