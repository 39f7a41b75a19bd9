"""pcscd with the vsmartcard virtual reader, for tests and benchmarks.

`PcscDaemon.ensure()` uses a pcscd that is already running when it has the vpcd reader, and
otherwise starts one of its own (`pcscd --foreground`, bounded by `timeout`) and waits until
vpcd listens on 127.0.0.1:35963. Only a daemon we started is ever stopped or restarted.

pcscd reads /etc/reader.conf.d only when it starts, so the pcscd that the package's own scripts
start during `apt-get install` (or a systemd socket-activated one started before the driver was
configured) may run without the virtual reader. That daemon is not ours to stop: as root we then
run a private pcscd beside it, in a mount namespace of its own where a bind mount gives it a
/run/pcscd of ours (pcscd refuses to start while /run/pcscd/pcscd.comm belongs to another), and
point this process's PC/SC client at that socket with PCSCLITE_CSOCK_NAME, which libpcsclite
reads once, at the first PC/SC call. vpcd listens on all interfaces: test machines only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

VPCD_PORT = 35963
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_DIR = Path("/run/pcscd")
PCSCD_SOCKET = PCSCD_DIR / "pcscd.comm"
CLIENT_SOCKET_ENV = "PCSCLITE_CSOCK_NAME"
# A socket-activated pcscd starts on the first connection and loads its readers within ~10 ms.
FOREIGN_VPCD_GRACE_S = 2.0


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


def _daemon_answers(path: Path = PCSCD_SOCKET) -> bool:
    if not path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _pid_from_file(path: Path) -> int | None:
    try:
        text = path.read_bytes().replace(b"\0", b"").strip()  # pcscd writes a trailing NUL
        return int(text)
    except (OSError, ValueError):
        return None


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PcscDaemon:
    def __init__(self, lifetime_s: int = 600):
        self.lifetime_s = lifetime_s
        self.process: subprocess.Popen | None = None
        self.private_dir: Path | None = None  # set when ours runs beside a pcscd without vpcd
        self.foreign_pid: int | None = None  # the pcscd that is not ours (never signalled)
        self._client_env_before: str | None = None

    @property
    def started_by_us(self) -> bool:
        return self.process is not None

    @property
    def socket_path(self) -> Path:
        return self.private_dir / "pcscd.comm" if self.private_dir else PCSCD_SOCKET

    def ensure(self, wait_s: float = 8.0) -> None:
        if _daemon_answers():
            if self._wait_for_vpcd(FOREIGN_VPCD_GRACE_S):
                return
            self.foreign_pid = _pid_from_file(PCSCD_DIR / "pcscd.pid")
            self._use_private_socket()
        self.start(wait_s)

    def _use_private_socket(self) -> None:
        if os.geteuid() != 0 or shutil.which("unshare") is None or not PCSCD_DIR.is_dir():
            raise PcscUnavailable(
                "a pcscd that is not ours runs without the vpcd reader (it reads /etc/reader.conf.d only "
                "at start: restart it), and a private pcscd beside it needs root and unshare")
        self.private_dir = Path(tempfile.mkdtemp(prefix="kiosk-pcscd-"))
        self._client_env_before = os.environ.get(CLIENT_SOCKET_ENV)
        os.environ[CLIENT_SOCKET_ENV] = str(self.socket_path)  # before this process's first PC/SC call

    def _command(self) -> list[str]:
        bounded = ["timeout", str(self.lifetime_s)]
        if self.private_dir is None:
            return [*bounded, "pcscd", "--foreground"]
        # The bind mount exists only in the new namespace: the other pcscd keeps its /run/pcscd.
        private = 'mount --bind "$0" /run/pcscd && exec pcscd --foreground'
        return [*bounded, "unshare", "--mount", "--propagation", "private", "sh", "-c", private,
                str(self.private_dir)]

    def start(self, wait_s: float = 8.0) -> None:
        if self.socket_path.exists() and not _daemon_answers(self.socket_path):
            self.socket_path.unlink()  # left behind by a killed daemon; pcscd refuses to start over it
        self.process = subprocess.Popen(self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        if not (self._wait_for_vpcd(wait_s) and self._wait_for_socket(wait_s)):
            self.stop()
            raise PcscUnavailable("pcscd started but vpcd is not listening on 127.0.0.1:35963")

    def close(self) -> None:
        """Stop our daemon (if any) and give the process back its PC/SC client setting."""
        self.stop()
        if self.private_dir is None:
            return
        if self._client_env_before is None:
            os.environ.pop(CLIENT_SOCKET_ENV, None)
        else:
            os.environ[CLIENT_SOCKET_ENV] = self._client_env_before
        shutil.rmtree(self.private_dir, ignore_errors=True)

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

    def _wait_for_socket(self, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        while not _daemon_answers(self.socket_path):
            if time.monotonic() > deadline or (self.process is not None and self.process.poll() is not None):
                return False
            time.sleep(0.02)
        return True

    def _wait_for_vpcd(self, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if _listening(VPCD_PORT):
                return True
            if self.process is not None and self.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False
