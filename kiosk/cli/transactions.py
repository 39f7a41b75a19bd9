"""`kiosk load`, `kiosk queue [--json]`, `kiosk queue drain`, `kiosk queue attention`,
`kiosk cash totals`, `kiosk receipt verify PAYLOAD`.

Resolving transactions and collecting cash happen on the kiosk's attendant screen behind a staff
PIN (they print vouchers and receipts on the kiosk's printer); the shell only shows them."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from kiosk.core.command_line import EXIT_FAILED, EXIT_OK, CommandError, add_config_option, config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    load = subparsers.add_parser("load", help="run N scripted transactions headless (simulated devices)")
    load.add_argument("--transactions", type=int, required=True, metavar="N")
    load.add_argument("--seed", type=int, default=0, metavar="S")
    load.add_argument("--drain-timeout", type=float, default=60.0, metavar="SECONDS")
    load.add_argument("--witness", metavar="FILE", help=argparse.SUPPRESS)  # tests: money-taken journal
    load.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)  # tests: "started" line
    load.add_argument("--json", action="store_true")
    add_config_option(load)
    load.set_defaults(handler=_load)

    queue = subparsers.add_parser("queue", help="transactions per state and the oldest pending age")
    queue.add_argument("--json", action="store_true")
    add_config_option(queue)
    queue.set_defaults(handler=_queue)
    actions = queue.add_subparsers(dest="queue_command", metavar="ACTION")
    drain = actions.add_parser("drain", help="submit until nothing is pending; exit 0 only then")
    drain.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS")
    drain.add_argument("--json", action="store_true")
    add_config_option(drain)
    drain.set_defaults(handler=_drain)
    attention = actions.add_parser("attention", help="transactions waiting for an attendant (no personal data)")
    attention.add_argument("--json", action="store_true")
    add_config_option(attention)
    attention.set_defaults(handler=_attention)

    cash = subparsers.add_parser("cash", help="the cash box: totals since the last collection")
    cash_actions = cash.add_subparsers(dest="cash_command", metavar="ACTION", required=True)
    totals = cash_actions.add_parser("totals", help="cash received, change, refund vouchers, expected in the box")
    totals.add_argument("--json", action="store_true")
    add_config_option(totals)
    totals.set_defaults(handler=_cash_totals)

    receipt = subparsers.add_parser("receipt", help="check a provisional receipt's QR payload offline")
    receipt_actions = receipt.add_subparsers(dest="receipt_command", metavar="ACTION", required=True)
    verify = receipt_actions.add_parser("verify", help="verify PAYLOAD against the kiosk's public key")
    verify.add_argument("payload", metavar="PAYLOAD")
    verify.add_argument("--public-key", metavar="FILE", help="default: DATA/receipt-key/signing.pub")
    add_config_option(verify)
    verify.set_defaults(handler=_verify)


def _outbox(args: argparse.Namespace) -> Any:
    from offline_cache.outbox import Outbox

    config = config_from_args(args)
    outbox = Outbox(config.data_path / "outbox.sqlite", busy_timeout_ms=config.transactions.busy_timeout_ms)
    if outbox.last_error is not None:
        raise CommandError(f"outbox unusable: {outbox.last_error}")
    return config, outbox


def _load(args: argparse.Namespace) -> int:
    from kiosk.transactions.load import run_load

    if args.transactions < 0:
        raise CommandError("--transactions must be 0 or more", 2)
    config = config_from_args(args)
    result = run_load(config, args.transactions, args.seed, args.drain_timeout,
                      Path(args.witness) if args.witness else None, args.announce)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(f"load: {args.transactions} transactions in {result['seconds']} s; outcomes {result['outcomes']}; "
              f"recovered {result['recovered']}; drained {result['drained']}")
    return EXIT_OK if result["drained"] else EXIT_FAILED


def _queue(args: argparse.Namespace) -> int:
    from offline_cache.outbox import StorageError

    _config, outbox = _outbox(args)
    try:
        counts, age = outbox.counts(), outbox.oldest_pending_age()
        attention = outbox.list_states(("needs_attendant", "rejected"), limit=20)
    except StorageError as error:
        raise CommandError(str(error)) from None
    if args.json:
        print(json.dumps({"counts": counts, "oldest_pending_age_s": age, "pending": outbox.pending_count(),
                          "attention": [{"folio": r.folio, "state": r.state, "reason": r.reason}
                                        for r in attention]}, sort_keys=True))
        return EXIT_OK
    for state, count in counts.items():
        print(f"{state:16} {count}")
    print(f"oldest pending   {'-' if age is None else f'{age:.0f} s'}")
    for record in attention:
        print(f"attention: {record.folio} {record.state} {record.reason}")
    return EXIT_OK


def _drain(args: argparse.Namespace) -> int:
    from kiosk.transactions.api import ApiClient
    from kiosk.transactions.submitter import Submitter
    from offline_cache.outbox import OutboxError

    config, outbox = _outbox(args)
    settings = config.transactions
    api = ApiClient(config.api.base_url, timeout_s=config.api.timeout_s,
                    connect_timeout_s=config.api.connect_timeout_s)
    submitter = Submitter(outbox, api, base_s=settings.retry_base_s, cap_s=settings.retry_cap_s,
                          give_up_after_s=settings.give_up_after_days * 86400)
    started = time.monotonic()
    try:
        empty = submitter.drain(args.timeout)
        pending = outbox.pending_count()
    except OutboxError as error:  # beside the running app: say what happened, never a traceback
        raise CommandError(f"queue drain stopped: {error}") from None
    if args.json:
        print(json.dumps({"drained": empty, "pending": pending, "seconds": round(time.monotonic() - started, 3),
                          "last_error": submitter.last_error}))
    elif empty:
        print(f"queue drained in {time.monotonic() - started:.1f} s")
    if not empty:
        raise CommandError(f"{pending} transactions still pending (last error: {submitter.last_error or 'none'})")
    return EXIT_OK


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _attention(args: argparse.Namespace) -> int:
    from kiosk.transactions.attendant import attention_items
    from offline_cache.outbox import StorageError

    _config, outbox = _outbox(args)
    try:
        items = attention_items(outbox)
    except StorageError as error:
        raise CommandError(str(error)) from None
    if args.json:
        print(json.dumps({"attention": [item.to_dict() for item in items]}, sort_keys=True, ensure_ascii=False))
        return EXIT_OK
    if not items:
        print("nothing waits for an attendant")
    for item in items:
        print(f"{item.folio}  {item.kind:11} {item.method:4} {item.amount_cents / 100:>10.2f}  paid "
              f"{item.paid_cents / 100:.2f}  {_age(item.age_s):>7}  {item.reason}  [{'/'.join(item.outcomes)}]")
    return EXIT_OK


def _cash_totals(args: argparse.Namespace) -> int:
    from kiosk.transactions.cash_office import summarize, totals_sections
    from offline_cache.outbox import StorageError

    _config, outbox = _outbox(args)
    try:
        totals = summarize(outbox.cash_ledger(), outbox.clock())  # the acceptor's counter lives in the app
    except StorageError as error:
        raise CommandError(str(error)) from None
    if args.json:
        print(json.dumps(totals.to_dict(), sort_keys=True))
        return EXIT_OK
    since = f"since collection {totals.since_collection}" if totals.since_collection else "no collection yet"
    print(f"cash totals ({since})")
    for heading, lines in totals_sections(totals):
        print(heading)
        for line in lines:
            print(f"  {line}")
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    """One line whatever PAYLOAD is: what the document says (0), why it is refused (1), or why
    the public key cannot be used (2)."""
    from decimal import Decimal

    from cryptography.exceptions import UnsupportedAlgorithm

    from kiosk.catalog.signing import parse_public_key
    from kiosk.transactions.receipts import (
        COLLECTION_PREFIX,
        VOUCHER_PREFIX,
        ReceiptInvalid,
        public_key_path,
        verify_document,
    )

    source = args.public_key or str(public_key_path(config_from_args(args).data_path))
    try:
        public = parse_public_key(source)
    except (ValueError, UnsupportedAlgorithm) as error:
        raise CommandError(" ".join(f"public key: {error}".split()), 2) from None
    try:
        prefix, payload = verify_document(args.payload, public)
    except ReceiptInvalid as error:
        raise CommandError(f"receipt NOT valid: {error}") from None

    def pesos(cents: int) -> str:  # exact, negative amounts included (fields are checked integers)
        return f"{Decimal(cents) / 100:.2f}"

    issued = f"issued {payload['t']}, kiosk {payload['k']}"
    if prefix == VOUCHER_PREFIX:
        print(f"refund voucher valid: {payload['v']}, folio {payload['f']}, amount {pesos(payload['a'])}, "
              f"paid by {payload['m']}, {issued}")
    elif prefix == COLLECTION_PREFIX:
        print(f"cash collection valid: number {payload['n']}, received {pesos(payload['r'])}, "
              f"expected in the box {pesos(payload['e'])}, net {pesos(payload['d'])}, {issued}")
    else:
        print(f"receipt valid: folio {payload['f']}, amount {pesos(payload['a'])}, {issued}")
    return EXIT_OK
