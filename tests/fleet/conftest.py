"""Fixtures for fleet health: a per-test sandbox API on loopback (plain or HTTPS with a
certificate made here), a kiosk configuration with simulated devices, a synced catalog, and
`kiosk diag` run as a real, time-bounded subprocess."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kiosk.core.config import Config, load_config
from kiosk.sandbox import SandboxServer, create_app
from kiosk.sandbox.fleet import Fleet

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SIM_DEVICES = {
    "printer": ("escpos", "sim://?code_page=CP858"),
    "card_reader": ("pcsc", "sim://?card=normal&profile=esteid"),
    "payment": ("transbank", "sim://?result=approved"),
    "cash": ("cctalk", "sim://?hopper=3"),
    "scanner": ("scanner", "sim://"),
}


class Clock:
    """Unix time that moves only when a test says so."""

    def __init__(self, start: float | None = None):
        self.now = dt.datetime.now(dt.UTC).timestamp() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def catch_up(self) -> None:
        """To real time now: after work stamped with real time (a catalog sync), which on a
        loaded machine can end seconds after this clock was made."""
        self.now = max(self.now, dt.datetime.now(dt.UTC).timestamp())


@dataclass
class Sandbox:
    server: SandboxServer
    fleet: Fleet
    data_dir: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def public_key(self) -> Path:
        return self.data_dir / "signing.pub"


def start_sandbox(data_dir: Path, fleet_clock: Callable[[], float] | None = None,
                  tls: ssl.SSLContext | None = None) -> Sandbox:
    app = create_app(data_dir=data_dir)
    fleet = Fleet(clock=fleet_clock) if fleet_clock else Fleet()
    fleet.install(app)
    server = SandboxServer(app, "127.0.0.1", 0)
    if tls is not None:
        # The same sandbox, spoken to over TLS: the listening socket hands out TLS connections.
        server.httpd.socket = tls.wrap_socket(server.httpd.socket, server_side=True)
    server.start()
    return Sandbox(server, fleet, data_dir)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(tmp_path: Path, clock: Clock) -> Iterator[Sandbox]:
    running = start_sandbox(tmp_path / "sandbox", fleet_clock=clock)
    try:
        yield running
    finally:
        running.server.stop()


def write_config(directory: Path, base_url: str, public_key: Path | str = "", devices: dict | None = None,
                 **sections: dict[str, Any]) -> Path:
    """A kiosk configuration in `directory`; `sections` add or override keys, e.g. fleet={...}."""
    values: dict[str, dict[str, Any]] = {
        # The report speaks the kiosk's language; these tests read it in English (the default,
        # Spanish, is checked in test_report.py::test_the_report_speaks_the_kiosks_language).
        "kiosk": {"id": "kiosk-test-07", "location": "Mercado Juárez, local 3", "data_dir": str(directory / "data"),
                  "language": "en"},
        "api": {"base_url": base_url, "public_key": str(public_key), "timeout_s": 2, "connect_timeout_s": 1,
                "retry_attempts": 1},
        "fleet": {"metrics_port": 0, "heartbeat_interval_s": 60, "status_interval_s": 15},
        "transactions": {"min_free_mb": 1},
    }
    for name, extra in sections.items():
        values.setdefault(name, {}).update(extra)
    lines = []
    for name, table in values.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    for name, (driver, url) in (SIM_DEVICES if devices is None else devices).items():
        lines += [f"[devices.{name}]", f"driver = {json.dumps(driver)}", f"url = {json.dumps(url)}"]
    path = directory / "kiosk.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sync_catalog(config: Config) -> None:
    from kiosk.catalog.service import store_path
    from kiosk.catalog.store import CatalogStore
    from kiosk.catalog.sync import CatalogSync, SyncSettings

    store = CatalogStore(store_path(config))
    try:
        CatalogSync(SyncSettings.from_config(config), store).sync_once()
    finally:
        store.close()


@pytest.fixture
def make_kiosk(tmp_path: Path, sandbox: Sandbox) -> Callable[..., tuple[Path, Config]]:
    """A configuration pointed at this test's sandbox, with its catalog synced."""

    def make(devices: dict | None = None, sync: bool = True, **sections: dict[str, Any]) -> tuple[Path, Config]:
        path = write_config(tmp_path / "kiosk", sandbox.url, sandbox.public_key, devices, **sections)
        config = load_config(path)
        if sync:
            sync_catalog(config)
        return path, config

    (tmp_path / "kiosk").mkdir()
    return make


@pytest.fixture
def open_adapters() -> Iterator[Callable[[Config], dict[str, Any]]]:
    """The configured simulated devices, opened as the app's hub would; closed afterwards."""
    opened: list[Any] = []

    def open_all(config: Config) -> dict[str, Any]:
        from devices.registry import create_adapters

        adapters = create_adapters(config.devices)
        for adapter in adapters.values():
            adapter.open()
            opened.append(adapter)
        return adapters

    yield open_all
    for adapter in opened:
        adapter.close()


def kiosk_diag(config_path: Path, *args: str, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`kiosk diag` as a technician runs it: a real process, bounded in time."""
    environment = dict(os.environ, **(env or {}))
    environment.pop("KIOSK_CONFIG", None)
    return subprocess.run([PYTHON, "-m", "kiosk", "diag", "--config", str(config_path), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=environment)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- certificates for a loopback HTTPS API ---------------------------------------------------------

@dataclass
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_certificates(directory: Path, not_before: dt.datetime, not_after: dt.datetime,
                      trusted: bool = True) -> Certificates:
    """A CA and a server certificate for 127.0.0.1 signed by it; `trusted=False` signs the server
    certificate with another CA than the one written to `ca_file`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)

    def ca(name: str) -> tuple[Any, Any]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                       .public_key(key.public_key()).serial_number(x509.random_serial_number())
                       .not_valid_before(now - dt.timedelta(days=365)).not_valid_after(now + dt.timedelta(days=3650))
                       .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                       .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                    content_commitment=False, key_encipherment=False,
                                                    data_encipherment=False, key_agreement=False,
                                                    encipher_only=False, decipher_only=False), critical=True)
                       .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                       .sign(key, hashes.SHA256()))
        return key, certificate

    trusted_key, trusted_ca = ca("Municipal test CA")
    signer_key, signer_ca = (trusted_key, trusted_ca) if trusted else ca("Somebody else's CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.sandbox.test")]))
              .issuer_name(signer_ca.subject).public_key(server_key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
              .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                          x509.DNSName("localhost")]), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
                             critical=False)
              .sign(signer_key, hashes.SHA256()))
    result = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    result.ca_file.write_bytes(trusted_ca.public_bytes(serialization.Encoding.PEM))
    result.cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    result.key_file.write_bytes(server_key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return result
