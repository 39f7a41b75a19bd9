from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.sandbox import SandboxServer, create_app
from kiosk.sandbox.payments import Payments

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxServer]:
    app = create_app(data_dir=tmp_path / "sandbox")
    Payments().install(app)
    server = SandboxServer(app, "127.0.0.1", 0).start()
    try:
        yield server
    finally:
        server.stop()


def write_config(directory: Path, base_url: str, **transactions: Any) -> Path:
    settings = {"retry_base_s": 0.02, "retry_cap_s": 0.3, "min_free_mb": 1, "busy_timeout_ms": 300}
    settings.update(transactions)
    lines = ["[kiosk]", f'data_dir = "{directory / "kiosk"}"', "[api]", f'base_url = "{base_url}"',
             "timeout_s = 2", "connect_timeout_s = 1", "[transactions]"]
    for key, value in settings.items():
        lines.append(f"{key} = {str(value).lower() if isinstance(value, bool) else value}")
    path = directory / "kiosk.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def kiosk(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "kiosk", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def kill_mid_run(script: str, args: list[str], run_s: float, on_line: Callable[[str], None],
                 start_timeout_s: float = 30) -> None:
    """Run `python -c script args`, give each line it prints to `on_line`, SIGKILL it `run_s`
    after its first line, then give the lines it wrote before it died. Always reaped."""
    child = subprocess.Popen([PYTHON, "-c", script, *args], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([child.stdout], [], [], start_timeout_s)
        assert ready, f"child never started: {child.stderr.read() if child.poll() is not None else ''}"
        on_line(child.stdout.readline())
        deadline = time.monotonic() + run_s
        while time.monotonic() < deadline:
            if select.select([child.stdout], [], [], 0.01)[0]:
                on_line(child.stdout.readline())
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        for line in child.stdout:  # written before the kill
            on_line(line)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        child.stdout.close()
        child.stderr.close()
