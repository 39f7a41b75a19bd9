"""No PIN (nor the pepper or audit key) in staff.sqlite, audit.sqlite, their WAL files, or logs."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest

from kiosk.core.config import Config
from kiosk.staff.access import StaffAccess
from kiosk.staff.audit import AuditLog
from kiosk.staff.model import StaffAccessError
from kiosk.staff.sessions import StaffSessions
from tests.staff.conftest import kiosk, python

# Eight digits: random hex (MACs) or base64 (hashes) is very unlikely to contain them by chance.
SECRET_PIN = "73918462"
OTHER_PIN = "20481397"

SESSION_SCRIPT = """
import sys
from kiosk.core.config import load_config
from kiosk.core.logs import setup_logging
from kiosk.staff.access import StaffAccess
from kiosk.staff.audit import AuditLog
from kiosk.staff.model import StaffAccessError
from kiosk.staff.sessions import StaffSessions
setup_logging("DEBUG")
config = load_config(sys.argv[1])
pin, other = sys.argv[2:]
sessions = StaffSessions(StaffAccess(config), AuditLog.open(config), 120)
for staff_id, typed in (("1042", other), (pin, pin), ("1042", pin), ("9", pin), ("1042", other),
                        ("1042", other), ("1042", other), ("1042", other), ("1042", other), ("1042", pin)):
    try:
        sessions.login(staff_id, typed)
        sessions.record("receipt.reprint", folio="EMO-01")
    except StaffAccessError as error:
        print(type(error).__name__, error)
"""


def test_no_pin_in_databases_or_logs(config: Config, config_path: Path) -> None:
    added = kiosk("staff", "add", "1042", "--name", "Ana Ruiz", "--role", "attendant", "--pin-stdin",
                  "--config", str(config_path), stdin=SECRET_PIN + "\n")
    assert added.returncode == 0, added.stderr
    child = python(SESSION_SCRIPT, str(config_path), SECRET_PIN, OTHER_PIN)
    assert child.returncode == 0, child.stderr
    assert "staff.authenticated" in child.stdout and "staff.login_failed" in child.stdout  # it did log
    assert "StaffLocked" in child.stdout
    for text in (added.stdout, added.stderr, child.stdout, child.stderr):
        assert SECRET_PIN not in text and OTHER_PIN not in text
    pepper = (config.data_path / "staff" / "pepper").read_bytes()
    key = (config.data_path / "staff" / "audit.key").read_bytes()
    for database in ("staff.sqlite", "audit.sqlite"):
        contents = b"".join(path.read_bytes() for path in config.data_path.glob(database + "*"))
        assert contents, database
        for secret in (SECRET_PIN.encode(), OTHER_PIN.encode(), pepper, key, pepper.hex().encode()):
            assert secret not in contents, database


def test_no_pin_in_log_records(config: Config, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    access = StaffAccess(config)
    sessions = StaffSessions(access, AuditLog.open(config), 120)
    access.add("1042", "Ana Ruiz", "attendant", SECRET_PIN)
    for staff_id, typed in (("1042", OTHER_PIN), (SECRET_PIN, SECRET_PIN), ("1042", SECRET_PIN)):
        with contextlib.suppress(StaffAccessError):
            sessions.login(staff_id, typed)
    rendered = " ".join(f"{record.getMessage()} {getattr(record, 'fields', {})}" for record in caplog.records)
    assert "staff.authenticated" in rendered and "staff.login_failed" in rendered
    assert SECRET_PIN not in rendered and OTHER_PIN not in rendered
    access.close()
