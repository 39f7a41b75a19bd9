"""Background catalog sync: a worker thread that syncs on a schedule and never blocks the UI.

The app wires it like this (the callback runs on the worker thread, so a Kivy app hops to its
own thread with `Clock.schedule_once`):

    service = CatalogSyncService(sync, interval_s=config.api.sync_interval_s,
                                 on_change=lambda result: Clock.schedule_once(lambda dt: reload(result)))
    service.start()        # first sync right away
    service.trigger()      # "sync now" (e.g. from the technician screen)
    service.stop()         # on shutdown

After a failure the next try comes sooner than the regular interval (doubling, with full jitter)
so a kiosk recovers quickly when the network comes back, without a fleet of kiosks hammering the
API in step.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kiosk.catalog.sync import SyncError, SyncResult
from kiosk.core.logs import event

if TYPE_CHECKING:
    from kiosk.core.config import Config

log = logging.getLogger("kiosk.catalog.service")


class Syncer(Protocol):
    def sync_once(self, full: bool = False) -> SyncResult: ...


class CatalogSyncService:
    def __init__(self, sync: Syncer, interval_s: float, on_change: Callable[[SyncResult], None] | None = None,
                 on_error: Callable[[SyncError], None] | None = None, retry_s: float = 15.0,
                 rand: Callable[[], float] = random.random):
        self.sync = sync
        self.interval_s = interval_s
        self.on_change = on_change
        self.on_error = on_error
        self.retry_s = retry_s
        self._rand = rand
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.runs = 0
        self.last_result: SyncResult | None = None
        self.last_error: SyncError | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="catalog-sync", daemon=True)
        self._thread.start()

    def trigger(self) -> None:
        """Sync as soon as possible instead of waiting for the schedule."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the worker to finish; returns False if it is still inside a sync after `timeout`."""
        self._stopping = True
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        alive = self._thread.is_alive()
        if not alive:
            self._thread = None
        return not alive

    def next_delay(self) -> float:
        if self.failures == 0:
            return self.interval_s * (0.9 + 0.2 * self._rand())  # +-10 % spreads a fleet's polls
        ceiling = min(self.interval_s, self.retry_s * 2 ** (self.failures - 1))
        return max(1.0, self._rand() * ceiling)

    def run_once(self) -> SyncResult | None:
        """One scheduled sync; never raises, so the worker thread cannot die."""
        self.runs += 1
        try:
            result = self.sync.sync_once()
        except SyncError as error:
            self.failures += 1
            self.last_error = error
            self._call(self.on_error, error)
            return None
        except Exception as error:  # an unexpected bug must not stop future syncs
            self.failures += 1
            self.last_error = SyncError("internal", f"{type(error).__name__}: {error}")
            event(log, "catalog.sync_crashed", level=logging.ERROR, error=type(error).__name__)
            self._call(self.on_error, self.last_error)
            return None
        self.failures = 0
        self.last_error = None
        self.last_result = result
        if result.changed:
            self._call(self.on_change, result)
        return result

    def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            self.run_once()
            if self._stopping:
                break  # type: ignore[unreachable]  # stop() sets it from another thread meanwhile
            self._wake.wait(self.next_delay())

    @staticmethod
    def _call(callback: Callable | None, value: object) -> None:
        if callback is None:
            return
        try:
            callback(value)
        except Exception as error:  # the app's callback failing must not kill the sync thread
            event(log, "catalog.callback_failed", level=logging.ERROR, error=type(error).__name__)


def store_path(config: Config) -> Path:
    """Where the kiosk keeps its catalog: `<data_dir>/catalog.sqlite`."""
    return config.data_path / "catalog.sqlite"


def service_from_config(config: Config, on_change: Callable[[SyncResult], None] | None = None,
                        on_error: Callable[[SyncError], None] | None = None) -> CatalogSyncService:
    """Wire store, sync and schedule from `[api]`; raises SyncError if no public key is pinned."""
    from kiosk.catalog.store import CatalogStore
    from kiosk.catalog.sync import CatalogSync, SyncSettings

    sync = CatalogSync(SyncSettings.from_config(config), CatalogStore(store_path(config)))
    return CatalogSyncService(sync, config.api.sync_interval_s, on_change=on_change, on_error=on_error)
