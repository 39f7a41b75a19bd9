"""pcscd with the vsmartcard virtual reader, for tests and benchmarks on machines without systemd.

`PcscDaemon.ensure()` uses a pcscd that is already running or starts `pcscd --foreground`
(bounded by `timeout`), and waits until vpcd listens on 127.0.0.1:35963. Only a daemon we
started is ever stopped or restarted. vpcd listens on all interfaces: test machines only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

VPCD_PORT = 35963
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")


class PcscUnavailable(RuntimeError):
    pass


def missing_requirements() -> str:
    """Empty when pcscd, the vpcd driver and pyscard are all here; else what is missing."""
    missing = []
    if shutil.which("pcscd") is None:
        missing.append("pcscd (apt install pcscd)")
    if not VPCD_DRIVER.exists():
        missing.append(f"vsmartcard-vpcd ({VPCD_DRIVER} not found)")
    try:
        import smartcard.scard  # noqa: F401
    except ImportError:
        missing.append("pyscard (needs swig and libpcsclite-dev to build)")
    return ", ".join(missing)


def _listening(port: int) -> bool:
    """Read the kernel's socket table: connecting to vpcd would look like a card being inserted."""
    wanted = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[1].endswith(wanted) and fields[3] == "0A":  # 0A: LISTEN
                return True
    return False


def _daemon_answers() -> bool:
    if not PCSCD_SOCKET.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(PCSCD_SOCKET))
        return True
    except OSError:
        return False
    finally:
        probe.close()


class PcscDaemon:
    def __init__(self, lifetime_s: int = 600):
        self.lifetime_s = lifetime_s
        self.process: subprocess.Popen | None = None

    @property
    def started_by_us(self) -> bool:
        return self.process is not None

    def ensure(self, wait_s: float = 8.0) -> None:
        if _daemon_answers():
            if self._wait_for_vpcd(wait_s):
                return
            raise PcscUnavailable("a pcscd that is not ours runs without the vpcd reader "
                                  "(restart pcscd after installing vsmartcard-vpcd)")
        self.start(wait_s)

    def start(self, wait_s: float = 8.0) -> None:
        if PCSCD_SOCKET.exists() and not _daemon_answers():
            PCSCD_SOCKET.unlink()  # left behind by a killed daemon; pcscd refuses to start over it
        self.process = subprocess.Popen(
            ["timeout", str(self.lifetime_s), "pcscd", "--foreground"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        if not self._wait_for_vpcd(wait_s):
            self.stop()
            raise PcscUnavailable("pcscd started but vpcd is not listening on 127.0.0.1:35963")

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, 15)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=5)
        self.process = None
        deadline = time.monotonic() + 5
        while _listening(VPCD_PORT) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> None:
        if not self.started_by_us:
            raise RuntimeError("pcscd was not started by us; refusing to restart it")
        self.stop()
        self.start()

    def _wait_for_vpcd(self, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if _listening(VPCD_PORT):
                return True
            if self.process is not None and self.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False
