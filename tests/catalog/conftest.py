"""Fixtures for catalog tests: a real sandbox API on a free loopback port, keys, a store, a syncer.

Retries are real (the same code path) but the backoff sleep is recorded instead of slept, so a
test that exercises four attempts still takes milliseconds.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.catalog import signing
from kiosk.catalog.sample import build_sample
from kiosk.catalog.store import CatalogStore
from kiosk.catalog.sync import CatalogSync, SyncSettings
from kiosk.sandbox import CatalogState, SandboxApp, SandboxServer

_SAMPLE = build_sample()


@pytest.fixture
def sample() -> dict:
    return copy.deepcopy(_SAMPLE)


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    signing.generate_keys(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture
def sandbox(key_dir: Path, sample: dict) -> Iterator[SandboxServer]:
    state = CatalogState(sample, signing.load_private_key(key_dir / "signing.key"), retention=5)
    server = SandboxServer(SandboxApp(state), "127.0.0.1", 0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CatalogStore]:
    catalog_store = CatalogStore(tmp_path / "data" / "catalog.sqlite")
    yield catalog_store
    catalog_store.close()


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def make_sync(sandbox: SandboxServer, key_dir: Path, store: CatalogStore, sleeps: RecordingSleep):
    def make(**overrides) -> CatalogSync:
        settings = SyncSettings(base_url=sandbox.url, public_key=signing.parse_public_key(str(key_dir / "signing.pub")),
                                connect_timeout_s=2.0, read_timeout_s=overrides.pop("read_timeout_s", 2.0),
                                attempts=overrides.pop("attempts", 3), backoff_s=0.5, backoff_max_s=4.0, **overrides)
        return CatalogSync(settings, store, sleep=sleeps)
    return make


@pytest.fixture
def synced(make_sync, store: CatalogStore) -> CatalogSync:
    """A syncer whose store already holds the sandbox's revision 1."""
    sync = make_sync()
    sync.sync_once()
    assert store.revision() == 1
    return sync


def write_config(path: Path, url: str, key_path: Path | str, data_dir: Path, **extra: object) -> Path:
    lines = ["[kiosk]", f'data_dir = "{data_dir}"', "[api]", f'base_url = "{url}"', f'public_key = "{key_path}"',
             "retry_attempts = 1", "timeout_s = 2"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
