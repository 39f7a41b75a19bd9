"""The probes behind the checks: the API's health answer, its TLS certificate, disk and memory.

Every probe has a deadline and returns a value describing failure instead of raising, so one
unreachable thing never hides the rest of the report.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kiosk.core.http_limits import BodyTooLarge, read_body
from kiosk.fleet.checks import ApiProbe, TlsProbe


def probe_api(session: Any, base_url: str, connect_timeout_s: float, read_timeout_s: float,
              ca_file: str | None = None) -> ApiProbe:
    """GET /v1/health with the kiosk's own timeouts; the cheapest route every API version has.
    `ca_file` is given per request: requests lets $REQUESTS_CA_BUNDLE override a session's."""
    import requests

    url = base_url.rstrip("/") + "/v1/health"
    trust = {"verify": ca_file} if ca_file else {}
    started = time.perf_counter()
    try:
        response = session.get(url, timeout=(connect_timeout_s, read_timeout_s), stream=True, **trust)
        body = read_body(response)  # the whole body (bounded): a cut answer is a failure, not a success
    except requests.RequestException as error:
        return ApiProbe(base_url, False, error=_cause(error))
    except BodyTooLarge as error:
        return ApiProbe(base_url, False, error=str(error))
    latency = time.perf_counter() - started
    revision = None
    if response.status_code == 200:
        try:
            revision = int(json.loads(body).get("catalog_revision"))
        except (ValueError, TypeError, AttributeError):
            revision = None
    return ApiProbe(base_url, True, response.status_code, latency, "", revision)


def _cause(error: BaseException) -> str:
    """A short technician-readable cause: the innermost exception's class and message."""
    import requests

    if isinstance(error, requests.exceptions.SSLError):
        return "TLS handshake refused (certificate?)"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(error, requests.exceptions.ReadTimeout):
        return "no answer in time"
    if isinstance(error, requests.exceptions.ConnectionError):
        text = str(error)
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "Temporary failure in name resolution" in text:
            return "host name not found (DNS)"
        if "Network is unreachable" in text:
            return "network unreachable"
        return "connection failed"
    return type(error).__name__


def default_ca_bundle() -> str | None:
    """The CA file `requests` trusts (its env overrides, else certifi): judge what the kiosk's
    API client would accept, not what some other tool would."""
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if os.environ.get(variable):
            return os.environ[variable]
    try:
        import certifi
    except ImportError:
        return None
    return certifi.where()


def probe_tls(base_url: str, timeout_s: float, ca_file: str | None = None) -> TlsProbe | None:
    """The API's certificate: verified with the kiosk's trust store, and its notAfter even when it
    does not verify (an expired certificate should say "expired on", not just "refused")."""
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    host, port = parts.hostname, parts.port or 443
    context = ssl.create_default_context(cafile=ca_file or default_ca_bundle())
    try:
        der = _peer_certificate(host, port, timeout_s, context)
        verified, problem = True, ""
    except ssl.SSLCertVerificationError as error:
        verified, problem = False, str(error.verify_message or error.reason or "verification failed")
        try:
            der = _peer_certificate(host, port, timeout_s, _unverified_context())
        except (OSError, ssl.SSLError) as second:
            return TlsProbe(host, port, False, problem=f"{problem}; {type(second).__name__}")
    except (OSError, ssl.SSLError) as error:
        return TlsProbe(host, port, False, problem=_socket_problem(error))
    return _describe(host, port, der, verified, problem)


def _peer_certificate(host: str, port: int, timeout_s: float, context: ssl.SSLContext) -> bytes:
    with socket.create_connection((host, port), timeout=timeout_s) as sock, \
            context.wrap_socket(sock, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return der


def _unverified_context() -> ssl.SSLContext:
    # Only to read an untrusted certificate's dates for the report; nothing is sent over it.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _socket_problem(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError | socket.timeout):
        return "connection timed out"
    if isinstance(error, socket.gaierror):
        return "host name not found (DNS)"
    return f"{type(error).__name__}: {error}"


def _describe(host: str, port: int, der: bytes, verified: bool, problem: str) -> TlsProbe:
    from cryptography import x509

    certificate = x509.load_der_x509_certificate(der)
    return TlsProbe(host, port, True, verified, problem, certificate.not_valid_after_utc.timestamp(),
                    certificate.subject.rfc4514_string(), certificate.issuer.rfc4514_string())


def disk_free_bytes(path: Path) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def memory_facts(pid: int | None = None) -> tuple[int | None, int | None, int | None]:
    """(this process's RSS, MemAvailable, MemTotal) in bytes, from /proc; None where unknown."""
    rss = _proc_kib(Path(f"/proc/{pid or 'self'}/status"), "VmRSS")
    available = _proc_kib(Path("/proc/meminfo"), "MemAvailable")
    total = _proc_kib(Path("/proc/meminfo"), "MemTotal")
    return rss, available, total


def _proc_kib(path: Path, key: str) -> int | None:
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            try:
                return int(line.split()[1]) * 1024
            except (IndexError, ValueError):
                return None
    return None
