"""`kiosk demo`: the sandbox municipal API on loopback, one catalog sync, then the kiosk.

The sandbox runs as a child process bound to 127.0.0.1, keeps its key and catalog in
<data_dir>/sandbox (the demo config pins that key), starts with the sample accounts owing
again, and is stopped when the demo ends.

On a desktop the demo opens an ordinary window (border, cursor, closes with its close button,
Escape or Ctrl+Q), never the locked-down full screen of `kiosk run` (kiosk.ui.kivyenv).
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests

from kiosk.core.command_line import CommandError
from kiosk.core.config import Config
from kiosk.core.logs import event
from kiosk.ui import kivyenv

log = logging.getLogger("kiosk.ui.demo")
START_TIMEOUT_S = 20.0
# The demo's staff (README): only ever created for a kiosk whose API is the loopback sandbox and
# whose staff list is empty, so a real installation never carries these PINs.
DEMO_STAFF = (("1001", "Ana Pérez (demo)", "attendant", "482915"),
              ("2001", "Luis Gómez (demo)", "technician", "739264"))


@contextlib.contextmanager
def sandbox_for_demo(config: Config) -> Iterator[None]:
    # `kiosk demo` (and the tour) run inside this: a demo on a display gets a desktop window.
    kivyenv.request_desktop_window()
    url = urlsplit(config.api.base_url)
    if url.hostname not in ("127.0.0.1", "localhost"):
        yield  # a real municipal API: use it as it is
        return
    ensure_demo_staff(config)
    if _serving(config.api.base_url):
        yield  # a sandbox already running
        return
    data = config.data_path / "sandbox"
    # Every demo starts from the same municipality: sample accounts with their debts again (the
    # sandbox keeps its signing key, which the demo config pins).
    for stale in data.glob("payments.sqlite*"):
        stale.unlink()
    command = [sys.executable, "-m", "kiosk", "sandbox-api", "--host", "127.0.0.1",
               "--port", str(url.port or 80), "--data", str(data)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_until_serving(config.api.base_url, process)
        _sync_once(config)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def ensure_demo_staff(config: Config) -> bool:
    """Give a demo kiosk (API on loopback) its attendant and technician unless staff were already
    provisioned; True when the demo staff are the kiosk's staff (the tour may then log in)."""
    if urlsplit(config.api.base_url).hostname not in ("127.0.0.1", "localhost"):
        return False
    from kiosk.staff import StaffAccess

    access = StaffAccess(config)
    try:
        members = access.members()
        if not members:
            for member in DEMO_STAFF:
                access.add(*member)
            event(log, "demo.staff_added", staff=",".join(member[0] for member in DEMO_STAFF))
            return True
        return {(m.staff_id, m.name) for m in members} == {(m[0], m[1]) for m in DEMO_STAFF}
    finally:
        access.close()


def _serving(base_url: str) -> bool:
    try:
        return requests.get(f"{base_url}/v1/health", timeout=1).ok
    except requests.RequestException:
        return False


def _wait_until_serving(base_url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            problem = (process.stderr.read() if process.stderr else "").strip().splitlines()
            raise CommandError(f"demo: the sandbox API did not start: {problem[-1] if problem else 'no message'}")
        if _serving(base_url):
            return
        time.sleep(0.1)  # the child process offers no event to wait on: poll its port briefly
    raise CommandError(f"demo: the sandbox API did not answer at {base_url} within {START_TIMEOUT_S:.0f} s")


def _sync_once(config: Config) -> None:
    from kiosk.catalog.service import service_from_config
    from kiosk.catalog.sync import SyncError

    try:
        result = service_from_config(config).sync.sync_once()
    except SyncError as error:
        event(log, "demo.sync_failed", level=logging.WARNING, reason=error.code, detail=str(error))
        return
    event(log, "demo.synced", revision=result.revision, mode=result.mode)
