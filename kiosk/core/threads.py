"""One way across threads: work leaves the UI thread through `run_off_ui`, and its result comes
back through the `call_soon` the app passes in (Kivy's clock in the app, `immediate` in tests).

Device, disk and network work never runs on the UI thread: a frozen screen is what a citizen
sees when it does. Code that touches widgets is marked `@on_ui_thread`, which refuses a call
from any other thread, so a result delivered without the hop fails loudly in tests instead of
corrupting a widget now and then on a kiosk.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from devices.contract import CallSoon, immediate
from kiosk.core.errors import KioskError

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
Runner = Callable[[Callable[[], None]], object]  # starts work somewhere other than the caller's thread

log = logging.getLogger("kiosk.threads")

__all__ = ["CallSoon", "Runner", "SerialWorker", "WrongThread", "immediate", "is_ui_thread", "mark_ui_thread",
           "on_ui_thread", "run_in_thread", "run_off_ui"]


def run_in_thread(work: Callable[[], None], name: str = "kiosk-work") -> threading.Thread:
    """Run `work` in a new daemon thread (its deadlines are its own: every device and network
    call here has one); the thread is returned for a test or a shutdown to join."""
    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    return thread


def run_off_ui(work: Callable[[], T], on_done: Callable[[T], None], on_error: Callable[[Exception], None],
               call_soon: CallSoon, run: Runner = run_in_thread) -> None:
    """`work()` off the UI thread; then `on_done(value)` or `on_error(error)` on the UI thread."""

    def job() -> None:
        try:
            value = work()
        except Exception as error:  # the caller words it for a person; never a traceback on screen
            failure = error
            call_soon(lambda: on_error(failure))
            return
        call_soon(lambda: on_done(value))

    run(job)


class SerialWorker:
    """One daemon thread that runs what it is given in the order given: the staff desk's disk work,
    so audit entries follow the order of the actions that made them."""

    def __init__(self, name: str):
        self.name = name
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def __call__(self, work: Callable[[], None]) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
        self._queue.put(work)

    def _loop(self) -> None:
        while True:
            work = self._queue.get()
            try:
                work()
            except Exception:  # one failed job must not stop the ones behind it
                log.exception("threads.job_failed")


class WrongThread(KioskError, RuntimeError):
    """Widget code was called from a thread other than the UI thread."""

    code = "internal.wrong_thread"


_ui_thread: threading.Thread | None = None


def mark_ui_thread() -> None:
    """The app calls this once on the thread that runs Kivy's loop."""
    global _ui_thread
    _ui_thread = threading.current_thread()


def is_ui_thread() -> bool:
    return threading.current_thread() is (_ui_thread or threading.main_thread())


def on_ui_thread(function: F) -> F:
    """Refuse to run `function` (which touches widgets) anywhere but on the UI thread."""

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not is_ui_thread():
            raise WrongThread(f"{function.__qualname__} touches widgets but was called from "
                              f"{threading.current_thread().name}")
        return function(*args, **kwargs)

    return guarded  # type: ignore[return-value]  # same signature: functools.wraps
