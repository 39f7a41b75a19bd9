"""One error tree (kiosk/core/errors.py): every error the project raises on purpose has a root
with a stable `.code`, the tree in the docstring names every class, and `code_of` reads the code
of anything that reaches a caller."""

from __future__ import annotations

import importlib
import inspect
import sqlite3
from pathlib import Path

import pytest

from devices.contract import DeviceError
from kiosk.core import errors
from kiosk.core.errors import KioskError, code_of, message_of
from offline_cache.errors import CacheError

ROOT = Path(__file__).resolve().parents[1]
# Parse errors a boundary maps before they leave their package (the adapter NAKs a bad frame, the
# registry turns a bad URL into DeviceError("config.invalid")), the simulators' own, and private ones.
MAPPED_INSIDE = {"devices.transbank.FrameError", "devices.urls.UrlError", "devices.sim.pcsc_env.PcscUnavailable",
                 "kiosk.staff.audit._Unreadable"}
ROOTS = {"kiosk": KioskError, "devices": DeviceError, "offline_cache": CacheError}


def exception_classes() -> list[type[BaseException]]:
    found = []
    for package in ROOTS:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if name.startswith("kiosk.ui") or name.endswith("__main__"):
                continue  # the Kivy edge imports Kivy; its one error (TourIncomplete) is checked below
            module = importlib.import_module(name)
            found += [value for value in vars(module).values() if inspect.isclass(value)
                      and issubclass(value, BaseException) and value.__module__ == name]
    return found


def test_every_error_descends_from_its_package_root() -> None:
    strays = [f"{c.__module__}.{c.__qualname__}" for c in exception_classes()
              if not issubclass(c, ROOTS[c.__module__.split(".")[0]])
              and f"{c.__module__}.{c.__qualname__}" not in MAPPED_INSIDE]
    assert strays == []


def test_the_docstring_draws_every_class_of_the_tree() -> None:
    drawn = errors.__doc__ or ""
    kiosk_errors = [c for c in exception_classes() if issubclass(c, KioskError)]
    assert len(kiosk_errors) > 20
    assert [c.__qualname__ for c in kiosk_errors if c.__qualname__ not in drawn] == []
    assert "TourIncomplete" in drawn


def test_codes_are_stable_words_not_sentences() -> None:
    for error_class in exception_classes():
        code = getattr(error_class, "code", None)
        if isinstance(code, str):  # a class-level code; the others set theirs per instance
            assert code and " " not in code and code == code.lower(), f"{error_class.__qualname__}: {code!r}"


@pytest.mark.parametrize(("error", "code"), [
    (DeviceError("printer.paper_out", "no paper"), "printer.paper_out"),
    (CacheError(), "storage.error"),
    (sqlite3.OperationalError("disk I/O error"), "storage.sqlite_error"),
    (PermissionError("read-only"), "storage.os_error"),
    (KeyError("x"), "internal.KeyError"),
])
def test_code_of_reads_any_error_without_guessing(error: BaseException, code: str) -> None:
    assert code_of(error) == code


def test_code_of_our_own_errors() -> None:
    from kiosk.catalog.sync import SyncError
    from kiosk.core.config import ConfigError
    from kiosk.staff.model import WrongPin
    from kiosk.transactions.errors import Refused

    assert code_of(SyncError("rollback", "the revision went back")) == "rollback"
    assert code_of(Refused("bill.paid_up")) == "bill.paid_up"
    assert code_of(WrongPin(2)) == "staff.wrong_pin"
    assert code_of(ConfigError("k.toml", "bad")) == "config.invalid"
    damaged = importlib.import_module("offline_cache.sqlite").Damaged("not ok")
    assert code_of(damaged) == "storage.damaged" and isinstance(damaged, sqlite3.Error)


def test_no_caller_guesses_an_error_s_attributes() -> None:
    """`getattr(error, "code", ...)` was how callers read codes before the tree: code_of and
    message_of read them now, for any error."""
    import re

    guess = re.compile(r"getattr\(\w+, \"(code|reason|message\w*|detail)\"")
    found = [f"{path.relative_to(ROOT)}:{number}" for folder in ("kiosk", "screens", "devices", "offline_cache")
             for path in sorted((ROOT / folder).rglob("*.py"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if guess.search(line)]
    assert found == []


def test_message_of_gives_people_a_sentence_or_nothing() -> None:
    from kiosk.transactions.errors import Refused

    assert message_of(Refused("bill.paid_up")).startswith("Su cuenta está al corriente")
    assert message_of(DeviceError("printer.paper_out")) != ""
    assert message_of(KeyError("internal")) == ""  # the caller says "a technical problem"
