"""Transactions: pay and request at the kiosk, exactly once, through crashes and outages.

Kivy-free core for the payment and request screens (docs/transactions.md has the states and
guarantees). Everything money-related is recorded in the outbox (`offline_cache.outbox`)
before the device is asked, and submitted by a background thread with an Idempotency-Key.

Build once at start-up::

    outbox = Outbox(config.data_path / "outbox.sqlite", busy_timeout_ms=..., min_free_bytes=...)
    api = ApiClient(config.api.base_url, timeout_s=config.api.timeout_s)
    service = TransactionService(config, outbox, api, adapters, call_soon)
    service.start()          # settles a crashed session's rows, starts the submitter
    ...
    service.stop()

What the screens call (every callback arrives through the adapters' `call_soon`, i.e. on the UI
thread; every method that refuses raises `Refused` with `.code` (stable, for logs and metrics),
`.message` (the sentence for people, a Spanish msgid: translate it with the translator's gettext
where it is shown) and `.detail` (for logs only)):

- `service.availability() -> Availability(online, storage_ok, card, cash, lookup, request)`: each
  field is "ok" or a reason code; `Availability.message(code)` gives the plain sentence (a msgid)
  (e.g. offline: card "network.card_needs_network", lookup "network.lookup_needs_network";
  cash and certificate requests stay "ok" offline).
- `service.lookup(kind, ref, on=None) -> Bill` (GET /v1/accounts/{kind}/{ref}): concept,
  amount_cents, discounts (in force today), total_cents, card_fee_cents, due_date, paid_up.
  Offline: `service.bill_from_reference(kind, ref, amount_cents, concept)` from a scanned bill.
- `service.cash_acceptance() -> devices.cash.Acceptance`: denominations and change, shown first.
- `service.begin(bill_or_procedure, method, person=None, account=("", "")) -> Transaction`:
  method "card" | "cash" | "free"; durably records the transaction and its idempotency key;
  refuses when storage is unhealthy, the printer is not ready, or the method is impossible now.
  For a certificate pass the catalog procedure record and `Identity(method, name, id_number)`.
- `service.pay_by_card(tx, on_done)`, `service.pay_by_cash(tx, on_progress, on_done, on_notice)`,
  `service.cancel_cash(tx)`, `service.submit_free(tx)`, `service.cancel(tx)`:
  `on_done(PaymentOutcome(ok, state, reason, message, transaction))` (`outcome.text(gettext)`),
  `on_progress(Progress)` after each credit is on disk (inserted, total, remaining, change limit).
- `service.receipt(tx) -> devices.printer.Receipt`; `service.print_receipt(tx, on_done)`:
  QR = certificate download URL or verification URL once confirmed, else a provisional payload
  signed with the kiosk's Ed25519 key (`kiosk receipt verify PAYLOAD`).
- `service.get(key)` refreshes a Transaction; `service.queue_status()` for the staff screen.
- Assisted mode (docs/transactions.md, "Attendant"): `service.attention_items()`,
  `service.resolve(tx, outcome, attendant, note, on_printed)` with outcome "confirm" | "refund" |
  "nothing_taken", `service.last_receipt()`, `service.reprint_last(on_done)`,
  `service.reprint(folio, on_done)`, `service.print_voucher(number, on_done)`,
  `service.cash_totals()`, `service.collect_cash(attendant, note, on_printed)`; prints report one
  `Printed(ok, reason, message, document, copies)` through call_soon (`message`: a msgid).
"""

import importlib
from typing import Any

# Loaded on first use: `kiosk --version` and the other commands register their parsers by
# importing kiosk.cli.transactions, which must not pull in requests and the outbox for that.
_EXPORTS = {
    "ApiAnswer": "kiosk.transactions.api", "ApiClient": "kiosk.transactions.api",
    "ApiUnreachable": "kiosk.transactions.api", "Availability": "kiosk.transactions.service",
    "Bill": "kiosk.transactions.service", "Discount": "kiosk.transactions.service",
    "Identity": "kiosk.transactions.service", "PaymentOutcome": "kiosk.transactions.service",
    "Refused": "kiosk.transactions.service", "Transaction": "kiosk.transactions.service",
    "TransactionService": "kiosk.transactions.service", "Submitter": "kiosk.transactions.submitter",
    "full_jitter": "kiosk.transactions.submitter",
    "AttentionItem": "kiosk.transactions.attendant", "Resolution": "kiosk.transactions.attendant",
    "CashTotals": "kiosk.transactions.cash_office", "Collection": "kiosk.transactions.cash_office",
    "Printed": "kiosk.transactions.documents",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kiosk.transactions' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
