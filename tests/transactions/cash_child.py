"""A kiosk that takes one cash payment on a real ccTalk port, for a test to SIGKILL mid-payment.

    python -m tests.transactions.cash_child --config FILE --cash-url URL --amount CENTS [--max-seconds S]

It opens its payment devices and the transaction service as the app does (`open_transactions`:
what a killed run left is recovered first), starts a cash payment and reports on stdout, one
flushed line per fact, each printed after the commit it names has returned:

    accepting FOLIO KEY       the payment is recorded `paying` and the acceptor is enabled
    credit CENTS TOTAL        a credit is recorded (outbox, or the fsynced money journal)
    done STATE REASON         the payment ended (a test kills the process before that)

The payment waits at most --max-seconds; then the process ends (the test kills it long before).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

from devices.registry import create_adapter
from kiosk.core.config import load_config
from kiosk.flows.payment import open_transactions


def ack(*words: object) -> None:
    sys.stdout.write(" ".join(str(word) for word in words) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cash_child")
    parser.add_argument("--config", required=True)
    parser.add_argument("--cash-url", required=True)
    parser.add_argument("--amount", type=int, required=True)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    cash = create_adapter("cash", "cctalk", args.cash_url, lambda fn: fn())
    if not cash.open().usable:
        ack("refused", cash.status().reason.code)
        return 2
    service = open_transactions(config, {"cash": cash}, lambda fn: fn())
    if service is None:
        ack("refused", "payments.unavailable")
        return 2
    service.cash_idle_s = args.max_seconds  # the citizen does not walk away: the test ends this
    bill = service.bill_from_reference("numero_contrato_agua", f"AGU-{args.amount}", args.amount, "Agua")
    tx = service.begin(bill, "cash")
    ended = threading.Event()

    def done(outcome) -> None:
        ack("done", outcome.state, outcome.transaction.reason if outcome.transaction else "")
        ended.set()

    service.pay_by_cash(tx, lambda progress: ack("credit", progress.last_cents, progress.inserted_cents), done)
    ack("accepting", tx.folio, tx.key)
    ended.wait(args.max_seconds)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # daemon device threads and the submitter must not hold the process
