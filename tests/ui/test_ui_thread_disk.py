"""The check every UI test carries (tests/ui/conftest.py): the UI thread never opens or writes a
database while the app runs. These prove the check can fail, and that the bill screen's storage
check, which commits to disk, runs off the UI thread."""

from __future__ import annotations

import pytest

from kiosk.core.threads import is_ui_thread
from tests.ui import conftest
from tests.ui.test_payment import start_paying_property_tax, type_text

pytestmark = pytest.mark.ui


def test_a_write_made_by_app_code_on_the_ui_thread_is_caught(pay_app, ui):
    outbox = pay_app.transactions.outbox
    ui.handled(outbox.health)  # what the bill screen did before: a storage probe on the UI thread
    caught, conftest.UI_THREAD_DISK[:] = list(conftest.UI_THREAD_DISK), []
    assert any(statement.startswith(("BEGIN", "INSERT", "DELETE")) for statement in caught), caught


def test_the_test_s_own_set_up_on_the_main_thread_is_not_counted(pay_app):
    pay_app.transactions.outbox.health()  # the test itself, not the app
    assert conftest.UI_THREAD_DISK == []


def test_the_bill_screen_checks_storage_off_the_ui_thread(pay_app, ui, monkeypatch):
    app = pay_app
    outbox = app.transactions.outbox
    threads = []
    real_health = outbox.health
    monkeypatch.setattr(outbox, "health",
                        lambda: threads.append(is_ui_thread() and ui.running_app_code()) or real_health())
    start_paying_property_tax(app, ui)
    type_text(ui, "001-002-003-0001")
    ui.tap(ui.find(id="continue_button"))
    ui.pump_until(lambda: app.root.manager.current == "bill" and threads, timeout_s=10)
    assert threads and not any(threads)  # checked, and never while the UI thread ran the app
    assert not ui.find(id="pay_cash").disabled
