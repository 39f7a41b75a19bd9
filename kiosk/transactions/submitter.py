"""Background submitter: posts queued transactions to the API, each with its Idempotency-Key.

At-least-once delivery plus server-side deduplication gives effectively-once application. A row
is `submitted` once a POST went out without a definitive answer, `confirmed` only after a 2xx;
network errors, timeouts, cut responses and 408/409/425/429/5xx are retried with exponential
backoff and full jitter (honouring Retry-After); any other 4xx is definitive: `rejected` when no
money was taken, else `needs_attendant` (an attendant applies it by hand or refunds it).
Transactions of one account go out in order (`Outbox.due`); a dead-lettered one never blocks
the rest. A row that keeps failing past `give_up_after_s` goes to an attendant, before the
API's key-retention window could turn a retry into a second charge.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable

from kiosk.core.logs import event
from kiosk.transactions.api import ApiAnswer, ApiClient, ApiUnreachable
from offline_cache.outbox import (
    CONFIRMED,
    NEEDS_ATTENDANT,
    QUEUED,
    REJECTED,
    SUBMITTED,
    Change,
    Outbox,
    Record,
    StorageError,
)

log = logging.getLogger("kiosk.transactions")
BATCH = 50  # answers recorded per commit at most
LEASE_S = 120.0  # how long a claim on a row keeps other submitters off it
BATCH_SECONDS = 1.0  # ...or after this long, whichever comes first


def full_jitter(attempt: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """AWS 'full jitter': uniform in [0, min(cap, base * 2**attempt)]."""
    ceiling = min(cap_s, base_s * (2 ** min(attempt, 62)))
    return (rng or random).uniform(0.0, ceiling)


class Submitter:
    def __init__(self, outbox: Outbox, api: ApiClient, *, base_s: float = 2.0, cap_s: float = 300.0,
                 give_up_after_s: float = 25 * 86400, clock: Callable[[], float] = time.time,
                 on_status: Callable[[bool], None] | None = None, rng: random.Random | None = None,
                 probe_s: float = 30.0, housekeeping: Callable[[], object] | None = None):
        self.outbox = outbox
        self.api = api
        self.base_s, self.cap_s, self.give_up_after_s = base_s, cap_s, give_up_after_s
        self.clock = clock
        self.on_status = on_status or (lambda online: None)
        self.rng = rng or random.Random()
        self.probe_s = probe_s  # how often the background loop checks GET /v1/health
        self.housekeeping = housekeeping  # run before every pass of the loop (money recorded late)
        # Rows are claimed before they are posted (Outbox.claim_due), under this name, for a lease
        # that the pass stops posting at half of: two submitters on one outbox (the app, and
        # `kiosk queue drain` in a shell) never post one row at the same time.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_s = LEASE_S
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error = ""

    # ---- one pass --------------------------------------------------------------------------

    def run_once(self) -> int:
        """Send every transaction due now (one per account per pass); returns how many were settled.

        Answers are recorded in batches, one commit per batch (group commit): a kill before the
        commit only means those rows are sent again with the same key and the API replays its
        first answer. History keeps the real time of each POST (Change.at)."""
        settled = 0
        changes: list[Change] = []
        claimed = self.outbox.claim_due(self.clock(), self.owner, self.lease_s, limit=BATCH)
        if not claimed:
            return 0
        started = batch_started = time.monotonic()
        try:
            for record in claimed:
                if self._stop.is_set() or time.monotonic() - started > self.lease_s / 2:
                    break  # the rest stay queued for the next pass: never post past half the lease
                outcome = self._attempt(record)
                changes.extend(outcome)
                settled += sum(1 for change in outcome if change.to_state in (CONFIRMED, REJECTED, NEEDS_ATTENDANT))
                if time.monotonic() - batch_started > BATCH_SECONDS:
                    self._settle(changes)
                    changes, batch_started = [], time.monotonic()
            if changes:
                self._settle(changes)
        finally:
            self.outbox.release_claims(self.owner)
        return settled

    def _settle(self, changes: list[Change]) -> None:
        for change in self.outbox.transition_many(changes, skip_moved=True):
            event(log, "transaction.settled_elsewhere", level=logging.WARNING, key=change.key[:8],
                  wanted=change.to_state or "")

    def _attempt(self, record: Record) -> list[Change]:
        now = self.clock()
        if now - record.created_at > self.give_up_after_s:
            return [Change(record.key, NEEDS_ATTENDANT, "submit.gave_up_retry_window")]
        sent = [Change(record.key, SUBMITTED, "submit.sent", at=now)] if record.state == QUEUED else []
        body = json.dumps(record.payload, sort_keys=True).encode()
        try:
            answer = self.api.post_transaction(record.key, body)
        except ApiUnreachable as error:
            self.on_status(False)
            return [*sent, self._retry(record, f"network:{error}", None)]
        except ApiAnswer as error:
            self.on_status(True)
            if error.retryable:
                return [*sent, self._retry(record, f"http:{error.status}", error.retry_after_s)]
            if record.paid_cents or record.payment:
                return [*sent, *self._refused_after_payment(record, error)]
            # No money was taken: a refusal simply ends it.
            event(log, "transaction.rejected", level=logging.WARNING, folio=record.folio, status=error.status,
                  state=REJECTED)
            reason = f"api.rejected:{error.status}:{str(error)[:120]}"
            return [*sent, Change(record.key, REJECTED, reason, {"response": error.body})]
        self.on_status(True)
        # The API holds the request now: the outbox drops the person's data in the same commit.
        event(log, "transaction.confirmed", folio=record.folio, attempts=record.attempts + 1)
        return [*sent, Change(record.key, CONFIRMED, "api.applied", {"response": answer})]

    def _refused_after_payment(self, record: Record, error: ApiAnswer) -> list[Change]:
        """Money was taken and a refusal came back. It may come from an intermediary after the API
        applied the POST, so ask the API what it did with the key before anyone offers a refund:
        applied -> confirmed with the API's own answer (it can only be confirmed); never stored or
        stored as a refusal -> an attendant refunds it; no answer -> try again later."""
        try:
            status = self.api.transaction_status(record.key)
        except (ApiUnreachable, ApiAnswer) as lookup_error:
            return [self._retry(record, f"lookup:{lookup_error}"[:200], None)]
        if status is not None and status.get("applied") is True:
            answer = status.get("answer") if isinstance(status.get("answer"), dict) else status
            event(log, "transaction.applied_despite_refusal", level=logging.WARNING, folio=record.folio,
                  status=error.status)
            return [Change(record.key, CONFIRMED, f"api.applied_lookup:{error.status}", {"response": answer})]
        event(log, "transaction.rejected", level=logging.WARNING, folio=record.folio, status=error.status,
              state=NEEDS_ATTENDANT)
        reason = f"api.rejected:{error.status}:{str(error)[:120]}"
        return [Change(record.key, NEEDS_ATTENDANT, reason, {"response": dict(error.body, lookup="not_applied")})]

    def _retry(self, record: Record, error: str, retry_after_s: float | None) -> Change:
        delay = full_jitter(record.attempts, self.base_s, self.cap_s, self.rng)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.cap_s))
        self.last_error = error
        event(log, "transaction.retry", folio=record.folio, attempt=record.attempts + 1, error=error,
              delay_s=round(delay, 3))
        return Change(record.key, None, "", {"attempts": record.attempts + 1, "next_at": self.clock() + delay,
                                             "last_error": error[:200]})

    # ---- loops -----------------------------------------------------------------------------

    def drain(self, timeout_s: float) -> bool:
        """Run in this thread until nothing is pending or the deadline passes; True if empty."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self._stop.is_set():
            try:
                if self.outbox.pending_count() == 0:
                    return True
                self.run_once()
            except StorageError as error:
                self.last_error = error.code
            self._sleep_until_due(deadline)
        return self.outbox.pending_count() == 0

    def _sleep_until_due(self, deadline: float) -> None:
        try:
            due = self.outbox.next_due_at()
        except StorageError:
            due = None
        wait = 1.0 if due is None else max(0.0, due - self.clock())
        wait = min(wait, max(0.0, deadline - time.monotonic()), 5.0, self.probe_s)
        if wait > 0:
            self._wake.wait(wait)
            self._wake.clear()

    def wake(self) -> None:
        """A transaction was queued: send it now instead of at the next poll."""
        self._wake.set()

    def start(self) -> Submitter:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="tx-submitter", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        last_probe = time.monotonic()
        while not self._stop.is_set():
            # Offline and nothing to send would leave the kiosk believing it is offline forever:
            # probe the API now and then so the banner goes away (and lookups return) by themselves.
            if time.monotonic() - last_probe >= self.probe_s:
                last_probe = time.monotonic()
                self.on_status(self.api.health())
            try:
                if self.housekeeping is not None:
                    self.housekeeping()
                self.run_once()
            except StorageError as error:
                self.last_error = error.code
            except Exception:  # keep the queue alive: one bad row must not stop every later one
                log.error("transaction.submitter_fault", exc_info=True)
            self._sleep_until_due(time.monotonic() + 5.0)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        self._stop.clear()  # a later drain() in this thread may run again
