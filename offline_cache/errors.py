"""The root of this package's errors, with the kiosk's contract (kiosk/core/errors.py): a stable
`.code` for logs and messages, a `.detail` for the technician. sqlite3 and OS errors are mapped
to it inside each store, once.

    CacheError                  storage.error
    ├── OutboxError             outbox.error          offline_cache/outbox.py
    │   ├── IllegalTransition   outbox.illegal_transition
    │   └── StorageError        storage.io_error, storage.low_space, storage.locked, ...
    ├── JournalError            journal.unwritable    offline_cache/money_journal.py
    └── Damaged                 storage.damaged       offline_cache/sqlite.py (also a sqlite3.DatabaseError)
"""

from __future__ import annotations


class CacheError(Exception):
    code: str = "storage.error"
    detail: str = ""
    message: str = ""  # what a person may read (a Spanish msgid), where there is such a sentence
