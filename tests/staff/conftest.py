"""Staff-access test helpers: a config in a temporary data directory, a settable clock, and
child processes (the `kiosk` CLI or a Python snippet) with bounded lifetimes."""

from __future__ import annotations

import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.core.config import Config, load_config
from kiosk.staff.access import StaffAccess
from kiosk.staff.audit import AuditLog

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
T0 = 1_900_000_000.0  # a fixed wall-clock start for injected clocks (2030)
PIN = "739184"  # a valid PIN used throughout; tests search files and logs for it


class Clock:
    """A clock the test moves by hand (wall or monotonic, as the code under test expects)."""

    def __init__(self, start: float = T0):
        self.value = start

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


def write_config(directory: Path, **staff: object) -> Path:
    lines = ["[kiosk]", f'data_dir = "{directory / "data"}"', "[staff]"]
    lines += [f"{key} = {value}" for key, value in staff.items()]
    path = directory / "kiosk.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_service_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def config(config_path: Path) -> Config:
    return load_config(config_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access(config: Config, clock: Clock) -> Iterator[StaffAccess]:
    handle = StaffAccess(config, now=clock)
    yield handle
    handle.close()


@pytest.fixture
def audit(config: Config) -> Iterator[AuditLog]:
    log = AuditLog.open(config)
    yield log
    log.close()


def child_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("KIOSK_") and key != "CREDENTIALS_DIRECTORY"}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def kiosk(*args: str, stdin: str | None = None, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """The `kiosk` command in a child process; stdin is `stdin`, or empty (not a terminal)."""
    feed = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run([PYTHON, "-m", "kiosk", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=child_env(**env), **feed)


def python(script: str, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a Python snippet in a fresh interpreter (`sys.argv[1:]` are `args`)."""
    return subprocess.run([PYTHON, "-c", script, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=child_env(**env), stdin=subprocess.DEVNULL)


def read_line(child: subprocess.Popen[str], timeout: float = 30) -> str:
    """One line from a child's stdout, or fail after `timeout` seconds (never hangs)."""
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    assert ready, f"child printed nothing within {timeout} s"
    return child.stdout.readline()


def stop(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.kill()
    child.wait(timeout=10)
