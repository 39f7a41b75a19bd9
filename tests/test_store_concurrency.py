"""The catalog store opened while another thread writes to it (the app's loader opens it while the
sync service commits): nobody gets "database is locked"."""

from __future__ import annotations

import threading

from kiosk.catalog.store import CatalogStore


def test_opening_the_store_while_another_thread_commits(tmp_path):
    path = tmp_path / "catalog.sqlite"
    CatalogStore(path).close()
    errors: list[BaseException] = []
    stop, first_commit = threading.Event(), threading.Event()

    def keep_writing() -> None:
        store = CatalogStore(path)
        for count in range(1, 400):
            if stop.is_set():
                break
            store.update_state(writes=count)
            first_commit.set()
        store.close()

    def open_repeatedly() -> None:
        try:
            for _ in range(10):
                CatalogStore(path).close()
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    assert first_commit.wait(30), "the writer never committed"  # the openers meet a writer mid-flight
    openers = [threading.Thread(target=open_repeatedly) for _ in range(4)]
    for thread in openers:
        thread.start()
    for thread in openers:
        thread.join(timeout=60)
    stop.set()
    writer.join(timeout=30)
    assert errors == []
    assert CatalogStore(path).state()["writes"] > 0
