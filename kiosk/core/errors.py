"""One error tree. Every error the kiosk raises on purpose descends from `KioskError` and
carries a stable `.code`: what logs, metrics, the fleet report and the message catalogue key
on, never a sentence. Its message (`str(error)`) is for the technician's log, never a citizen's
screen.

    KioskError                      kiosk/core/errors.py
    ├── ConfigError                 config.invalid            kiosk/core/config.py
    ├── CommandError                command.failed            kiosk/core/command_line.py
    ├── BodyTooLarge                network.body_too_large    kiosk/core/http_limits.py
    ├── WrongThread                 internal.wrong_thread     kiosk/core/threads.py
    ├── CatalogError                catalog.*
    │   ├── Invalid                 invalid_record, duplicate_id, ...   kiosk/catalog/model.py
    │   ├── SyncError               rollback, expired, http_503, ...    kiosk/catalog/sync.py
    │   ├── SignatureError          catalog.bad_signature     kiosk/catalog/signing.py
    │   ├── WireError               catalog.bad_wire          kiosk/catalog/wire.py
    │   └── StoreError              store, ...                kiosk/catalog/store.py
    ├── TransactionError            transactions.*
    │   ├── Refused                 the refusal's own code    kiosk/transactions/errors.py
    │   ├── ApiUnreachable          network.api_unreachable   kiosk/transactions/api.py
    │   ├── ApiAnswer               network.api_answer        kiosk/transactions/api.py
    │   └── ReceiptInvalid          receipt.invalid           kiosk/transactions/receipts.py
    ├── StaffError                  staff.*
    │   ├── StaffAccessError        staff.refused             kiosk/staff/model.py
    │   │   ├── StaffLocked, WrongPin, InvalidStaff, WeakPin
    │   │   ├── StaffUnavailable ── AuditUnavailable          kiosk/staff/audit.py
    │   │   └── NotPermitted ── NoSession
    │   ├── SecretProblem           staff.secret              kiosk/staff/secrets.py
    │   └── StorageProblem          staff.storage             kiosk/staff/db.py
    ├── ShellError                  shell.*
    │   ├── SpeechUnavailable       speech.unavailable        kiosk/shell/speech.py
    │   └── TransportError          help.transport            kiosk/shell/helpdesk.py
    ├── SandboxError ── Invalid     sandbox.invalid           kiosk/sandbox/fleet.py
    └── TourIncomplete              tour.incomplete           kiosk/ui/tour.py

The two stand-alone packages cannot import this module (docs/architecture.md), so each has one
root of its own with the same stable `.code` (and a `.detail`): `devices.contract.DeviceError` (serial,
USB, socket and pyscard errors are mapped to it inside each adapter) and
`offline_cache.errors.CacheError` (sqlite3 and OS errors are mapped to it inside each store).
Network errors (requests) are mapped where the kiosk calls the network: the catalog sync
(SyncError), the transaction API (ApiUnreachable) and the help desk (TransportError).
`code_of` reads the code of any of them and `message_of` its sentence for people, so no
caller guesses with getattr.
"""

from __future__ import annotations

from devices.contract import DeviceError
from offline_cache.errors import CacheError


class KioskError(Exception):
    """The root. Subclasses set `code`, as a class attribute or per instance, and `message` when
    a person may read why (a Spanish msgid, translated where it is shown)."""

    code: str = "kiosk.error"
    message: str = ""


class CatalogError(KioskError):
    code = "catalog.error"


class TransactionError(KioskError):
    code = "transactions.error"


class StaffError(KioskError):
    code = "staff.error"


class ShellError(KioskError):
    code = "shell.error"


class SandboxError(KioskError):
    code = "sandbox.error"


def message_of(error: BaseException) -> str:
    """What a person may read about `error`, as a Spanish msgid to translate where it is shown;
    "" when it has no such sentence (the caller says "a technical problem", never the error's
    own text, which is for the technician's log)."""
    if isinstance(error, KioskError | CacheError):
        return error.message
    if isinstance(error, DeviceError):
        return error.reason.message
    return ""


def code_of(error: BaseException) -> str:
    """The stable code of any error that reaches a caller: ours, the stand-alone packages', or
    a lower layer's that no boundary mapped (named by its kind, so it shows up in the logs)."""
    import sqlite3  # here, not at the top: `kiosk --help` loads this module and no database

    if isinstance(error, KioskError | DeviceError | CacheError):
        return error.code
    if isinstance(error, sqlite3.Error):
        return "storage.sqlite_error"
    if isinstance(error, OSError):
        return "storage.os_error"
    return f"internal.{type(error).__name__}"
