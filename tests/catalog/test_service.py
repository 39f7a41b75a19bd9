"""The background sync service: runs on its own thread, reports changes through a callback."""

from __future__ import annotations

import threading

from kiosk.catalog.service import CatalogSyncService
from kiosk.catalog.sync import SyncError
from kiosk.sandbox import Fault


def test_service_reports_changes_and_survives_failures(make_sync, sandbox, store):
    changes, errors = [], []
    changed, failed = threading.Event(), threading.Event()

    def on_change(result):
        changes.append(result)
        changed.set()

    def on_error(error):
        errors.append(error)
        failed.set()

    service = CatalogSyncService(make_sync(attempts=1), interval_s=3600, on_change=on_change, on_error=on_error)
    service.start()
    try:
        assert changed.wait(10), "the first sync should report a new catalog"
        assert changes[0].revision == 1
        changed.clear()
        sandbox.app.inject(Fault(status=503, times=1))
        service.trigger()
        assert failed.wait(10)
        assert isinstance(errors[0], SyncError) and errors[0].code == "http_503"
        assert service.failures == 1 and service.next_delay() <= 15.0
        sandbox.app.catalog.publish(upserts=[dict(store.get("sadv:PRE-001"), popularity=2)])
        service.trigger()
        assert changed.wait(10)
        assert changes[-1].revision == 2 and changes[-1].updated == ["sadv:PRE-001"]
        assert service.failures == 0
    finally:
        assert service.stop(10)


def test_callback_errors_do_not_kill_the_worker(make_sync):
    calls = threading.Event()

    def bad_callback(result):
        calls.set()
        raise RuntimeError("screen code failed")

    service = CatalogSyncService(make_sync(), interval_s=3600, on_change=bad_callback)
    service.run_once()
    assert calls.is_set() and service.failures == 0 and service.last_result.revision == 1


def test_schedule_spreads_polls_and_backs_off():
    service = CatalogSyncService(sync=None, interval_s=300, retry_s=10, rand=lambda: 1.0)
    assert service.next_delay() == 330.0
    service.failures = 3
    assert service.next_delay() == 40.0
    service.failures = 20
    assert service.next_delay() == 300.0


def test_service_from_config_syncs_into_the_data_dir(tmp_path, sandbox, key_dir):
    from kiosk.catalog.service import service_from_config, store_path
    from kiosk.core.config import load_config

    from .conftest import write_config

    config = load_config(write_config(tmp_path / "k.toml", sandbox.url, key_dir / "signing.pub", tmp_path / "d"))
    service = service_from_config(config)
    result = service.run_once()
    assert result is not None and result.revision == 1
    assert store_path(config) == tmp_path / "d" / "catalog.sqlite" and store_path(config).exists()
    service.sync.store.close()


def test_start_never_waits_for_a_slow_server(make_sync, sandbox):
    import time

    done = threading.Event()
    sandbox.app.inject(Fault(delay_s=1.0))
    service = CatalogSyncService(make_sync(), interval_s=3600, on_change=lambda result: done.set())
    started = time.perf_counter()
    service.start()
    assert time.perf_counter() - started < 0.2  # the caller (the UI thread) goes on at once
    try:
        assert not done.is_set()
        assert done.wait(10)
    finally:
        assert service.stop(10)
