"""Printing the attendant's documents (receipt copies, refund vouchers, collection receipts).

With a callback, a print runs off the caller's thread: `run_print` hands one piece of work (the
lookups it needs and the printing) to the printer adapter's `request`, and the outcome arrives
as one `Printed` through the adapters' `call_soon` (the UI thread in the app). Without one, it
runs in the caller's thread and returns the `Printed` (for callers already on a worker thread). A document printed in
several copies stops at the first copy that does not complete, so the report says how many
copies came out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from devices.contract import DeviceError, reason
from devices.printer import PrintResult
from kiosk.core.logs import event
from kiosk.core.threads import CallSoon
from kiosk.transactions.errors import REASONS, Refused
from offline_cache.outbox import StorageError

log = logging.getLogger("kiosk.transactions")


@dataclass(frozen=True)
class Printed:
    """What became of one document: `ok` when every copy completed.

    `reason` is "ok", a refusal code (e.g. "attendant.no_receipt") or the printer's reason code
    (e.g. "printer.paper_out"); `message` says it plainly for the attendant, as a Spanish msgid
    that the screen translates."""

    ok: bool
    reason: str
    message: str
    document: str  # the folio, voucher number or collection number printed
    copies: int  # copies that completed
    results: tuple[PrintResult, ...] = ()


def refused(code: str, document: str = "") -> Printed:
    return Printed(False, code, REASONS.get(code, ""), document, 0)


def print_copies(jobs: Sequence[Callable[[], PrintResult]], document: str) -> Printed:
    """Print each copy in turn (on the printer's request thread); stop at the first failure."""
    results: list[PrintResult] = []
    for job in jobs:
        result = job()
        results.append(result)
        if not result.completed:
            event(log, "attendant.print_incomplete", level=logging.WARNING, document=document, reason=result.reason)
            return Printed(False, result.reason, reason(result.reason).message, document, len(results) - 1,
                           tuple(results))
    return Printed(True, "ok", "", document, len(results), tuple(results))


def run_print(printer: Any, call_soon: CallSoon, work: Callable[[], Printed],
              on_done: Callable[[Printed], None] | None) -> Printed | None:
    """Run `work` on a printer request thread and deliver `on_done(Printed)` through `call_soon`;
    with `on_done=None`, run it here (blocking: never on the UI thread) and return the Printed."""
    if printer is None:
        missing = Printed(False, "transport.no_device", reason("transport.no_device").message, "", 0)
        if on_done is None:
            return missing
        call_soon(lambda: on_done(missing))
        return None

    def guarded() -> Printed:
        try:
            return work()
        except Refused as error:
            return Printed(False, error.code, error.message, "", 0)
        except StorageError as error:  # the lookup could not read the outbox
            return Printed(False, error.code, error.message, "", 0)

    if on_done is None:
        try:
            return guarded()
        except DeviceError as error:
            return Printed(False, error.code, error.reason.message, "", 0)

    def finished(printed: Printed | None, error: DeviceError | None) -> None:
        if printed is None:
            code = error.code if error is not None else "driver.fault"
            printed = Printed(False, code, reason(code).message, "", 0)
        on_done(printed)

    printer.request(guarded, finished)
    return None


def ignore(_printed: Printed) -> None:
    """The default for callers that do not watch a print (the outcome is logged anyway)."""
