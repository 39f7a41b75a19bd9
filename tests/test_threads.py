"""One way across threads (kiosk/core/threads.py)."""

from __future__ import annotations

import threading

import pytest

from kiosk.core.threads import (
    SerialWorker,
    WrongThread,
    immediate,
    is_ui_thread,
    on_ui_thread,
    run_in_thread,
    run_off_ui,
)


def test_work_runs_off_the_ui_thread_and_its_result_comes_back_through_call_soon() -> None:
    hopped: list[str] = []
    results: list[object] = []
    done = threading.Event()

    def call_soon(step) -> None:  # what the app's Kivy clock does: run it on the UI thread, later
        hopped.append(threading.current_thread().name)
        step()
        done.set()

    run_off_ui(lambda: (threading.current_thread() is threading.main_thread(), 42), results.append,
               lambda error: results.append(error), call_soon)
    assert done.wait(5)
    assert results == [(False, 42)]  # worked in another thread, delivered once


def test_a_failure_comes_back_as_the_error_not_a_traceback() -> None:
    failures: list[Exception] = []
    run_off_ui(lambda: 1 / 0, lambda _value: None, failures.append, immediate, run=lambda job: job())
    assert len(failures) == 1 and isinstance(failures[0], ZeroDivisionError)


def test_the_serial_worker_keeps_the_order_and_survives_a_failed_job() -> None:
    worker = SerialWorker("test-serial")
    seen: list[int] = []
    finished = threading.Event()
    for number in range(50):
        worker(lambda number=number: seen.append(number))
    worker(lambda: 1 / 0)  # logged, and the jobs behind it still run
    worker(finished.set)
    assert finished.wait(5)
    assert seen == list(range(50))


def test_widget_code_refuses_a_worker_thread() -> None:
    @on_ui_thread
    def touch_widgets() -> str:
        return "drawn"

    assert is_ui_thread() and touch_widgets() == "drawn"
    errors: list[BaseException] = []

    def from_worker() -> None:
        try:
            touch_widgets()
        except WrongThread as error:
            errors.append(error)

    run_in_thread(from_worker, "not-the-ui").join(5)
    assert len(errors) == 1 and "not-the-ui" in str(errors[0])
    with pytest.raises(WrongThread):
        raise errors[0]
