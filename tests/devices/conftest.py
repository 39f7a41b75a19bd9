"""Fixtures for the device tests: a UI-thread stand-in, pcscd + vpcd, socat pty pairs.

Every helper process is bounded (`timeout N` wraps it) and stopped by its fixture; only
loopback sockets and pseudo-terminals are used.
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devices.contract import DeviceEvent
from devices.sim.pcsc_env import PcscDaemon, PcscUnavailable, missing_requirements, process_alive


class UiThread:
    """Plays the Kivy clock: call_soon queues callbacks, `pump_until` runs them on this thread."""

    def __init__(self) -> None:
        self._callbacks: queue.Queue[Callable[[], None]] = queue.Queue()
        self.thread = threading.current_thread()
        self.events: list[DeviceEvent] = []
        self.threads_seen: set[str] = set()

    def call_soon(self, callback: Callable[[], None]) -> None:
        self._callbacks.put(callback)

    def record(self, event: DeviceEvent) -> None:
        self.threads_seen.add(threading.current_thread().name)
        self.events.append(event)

    def pump(self) -> None:
        while True:
            try:
                callback = self._callbacks.get_nowait()
            except queue.Empty:
                return
            callback()

    def pump_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                callback = self._callbacks.get(timeout=0.02)
            except queue.Empty:
                if predicate():
                    return True
                continue
            callback()
            if predicate():
                return True
        self.pump()
        return predicate()

    def wait_event(self, kind: str, timeout: float = 5.0, count: int = 1) -> DeviceEvent:
        ok = self.pump_until(lambda: len(self.kinds(kind)) >= count, timeout)
        assert ok, f"no {kind!r} event within {timeout} s; got {[e.kind for e in self.events]}"
        return self.kinds(kind)[count - 1]

    def kinds(self, kind: str) -> list[DeviceEvent]:
        return [event for event in self.events if event.kind == kind]


@pytest.fixture
def ui() -> UiThread:
    return UiThread()


@pytest.fixture(scope="session")
def pcscd() -> Iterator[PcscDaemon]:
    """A pcscd with the vpcd reader: the running one if it has it, else one of ours (beside a
    running one without it, e.g. the one apt's scripts started). Only ours is ever stopped."""
    missing = missing_requirements()
    if missing:
        pytest.skip(f"PC/SC tests need: {missing}")
    daemon = PcscDaemon(lifetime_s=300)
    try:
        daemon.ensure()
    except PcscUnavailable as problem:
        pytest.skip(f"PC/SC tests cannot run: {problem}")
    yield daemon
    daemon.close()
    if daemon.foreign_pid is not None:
        assert process_alive(daemon.foreign_pid), "the tests stopped a pcscd they did not start"


class PtyPair:
    """`socat` linking two pseudo-terminals: the kiosk opens `host`, the simulator opens `device`."""

    def __init__(self, directory: Path, name: str = "tty", lifetime_s: int = 120):
        self.host = str(directory / f"{name}-host")
        self.device = str(directory / f"{name}-device")
        self.lifetime_s = lifetime_s  # socat is bounded in time, like every helper a test starts
        self.process: subprocess.Popen | None = None

    def start(self, wait_s: float = 5.0) -> None:
        self.process = subprocess.Popen(
            ["timeout", str(self.lifetime_s), "socat", f"pty,raw,echo=0,link={self.host}",
             f"pty,raw,echo=0,link={self.device}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + wait_s
        while not (Path(self.host).exists() and Path(self.device).exists()):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("socat did not create the pty pair")
            time.sleep(0.01)

    def stop(self) -> None:
        """Like pulling the USB cable: both device nodes disappear."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None
        deadline = time.monotonic() + 5
        while Path(self.host).exists() and time.monotonic() < deadline:
            time.sleep(0.01)


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[PtyPair]:
    if shutil.which("socat") is None:
        pytest.skip("serial tests need socat (apt install socat)")
    pair = PtyPair(tmp_path)
    pair.start()
    yield pair
    pair.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, step: float = 0.01) -> bool:
    """A wait with a deadline (for state that changes on other threads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
