"""`kiosk run` as systemd runs it: READY once drawn, watchdog pings from the UI clock, clean SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ui  # starts the real Kivy app (in a child process)

ROOT = Path(__file__).resolve().parent.parent
VALUE = r'("(?:[^"\\]|\\.)*"|\S+)'
LOGFMT = re.compile(rf"^ts=\S+ level=(DEBUG|INFO|WARNING|ERROR|CRITICAL) logger=\S+ event={VALUE}( \w+={VALUE})*$")


def test_run_notifies_ready_pings_watchdog_and_stops_on_sigterm(tmp_path):
    notify_path = tmp_path / "notify.sock"
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n[display]\nfullscreen = false\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="400000", SDL_VIDEODRIVER="offscreen")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(notify_path))
        listener.settimeout(30)
        process = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--config", str(config)], cwd=ROOT,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            messages = []
            while sum(m == "WATCHDOG=1" for m in messages) < 3 or not any(m.startswith("READY=1") for m in messages):
                messages.append(listener.recv(4096).decode())
        finally:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr[-2000:]
    assert any(m.startswith("READY=1") for m in messages)
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert lines and all(LOGFMT.match(line) for line in lines), [bad for bad in lines if not LOGFMT.match(bad)][:3]
    assert any("event=app.ready" in line for line in lines)
    assert any("event=app.stopping signal=SIGTERM" in line for line in lines)
    assert "Traceback" not in stderr
