"""Catalog benchmarks: full sync, no-change sync, a 50-record delta, and search p95 at 10,000 procedures.

The sandbox API runs in-process on a free loopback port with a 10,000-procedure synthetic catalog.
The full sync is compared with the least any client must do with the same bytes: one plain
`requests.get` plus `json.loads` (no verification, no validation, no storage).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import requests

from bench.harness import Measurement
from kiosk.catalog import signing
from kiosk.catalog.sample import build_synthetic
from kiosk.catalog.store import CatalogStore
from kiosk.catalog.sync import CatalogSync, SyncSettings
from kiosk.sandbox import CatalogState, SandboxApp, SandboxServer

COUNT = 10_000
QUERIES = ["predial", "pago de predial", "acta de nacimiento", "acta nacimeinto", "licencia de construccion",
           "luz", "alumbrado publico", "multa de transito", "agua", "recibo de agau", "constancia de no adeudo",
           "panteon", "fosa refrendo", "basura", "impuesto predial", "uso de suelo", "bache", "negocio",
           "licencia de funcionamiento", "permiso", "certificado", "dif apoyo", "proteccion civil dictamen",
           "matrimonio", "curp", "reporte", "tala de arbol", "catastro valor", "pipa", "descuento"]


def _median_time(action, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def run() -> list[Measurement]:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        signing.generate_keys(root / "keys")
        key = signing.load_private_key(root / "keys" / "signing.key")
        document = build_synthetic(COUNT)
        server = SandboxServer(SandboxApp(CatalogState(document, key)), "127.0.0.1", 0).start()
        try:
            return _measure(root, server, key.public_key())
        finally:
            server.stop()


def _measure(root: Path, server: SandboxServer, public) -> list[Measurement]:
    settings = SyncSettings(server.url, public, connect_timeout_s=5, read_timeout_s=60, max_bytes=256 * 2**20)
    session = requests.Session()
    size = len(server.app.catalog.snapshot().body)

    def baseline() -> None:
        json.loads(session.get(server.url + "/v1/catalog", timeout=(5, 60)).content)

    counter = iter(range(100))

    def full_sync() -> None:
        store = CatalogStore(root / f"full-{next(counter)}.sqlite")
        CatalogSync(settings, store, session=session).sync_once()
        store.close()

    baseline()  # warm the connection and the server's snapshot cache
    plain = _median_time(baseline, 3)
    ours = _median_time(full_sync, 3)

    store = CatalogStore(root / "kiosk.sqlite")
    sync = CatalogSync(settings, store, session=session)
    sync.sync_once()
    nochange = _median_time(sync.sync_once, 30)

    state = server.app.catalog
    delta_times = []
    for round_number in range(5):
        upserts = []
        for record_id in list(state.procedures)[round_number * 50:(round_number + 1) * 50]:
            record = json.loads(json.dumps(state.procedures[record_id]))
            record["popularity"] = (record["popularity"] + 1) % 1000
            upserts.append(record)
        state.publish(upserts=upserts)
        started = time.perf_counter()
        result = sync.sync_once()
        delta_times.append(time.perf_counter() - started)
        assert result.mode == "changes" and len(result.updated) == 50
    incremental = statistics.median(delta_times)

    started = time.perf_counter()
    index = store.search_index()
    build = time.perf_counter() - started
    timings = []
    for _ in range(10):
        for query in QUERIES:
            started = time.perf_counter()
            index.search(query, 10)
            timings.append(time.perf_counter() - started)
    p95 = statistics.quantiles(timings, n=20)[-1]
    store.close()
    mb = size / 2**20
    return [
        Measurement("catalog_full_sync", ours * 1000, "ms", plain * 1000, "requests.get + json.loads",
                    f"{COUNT} procedures, {mb:.1f} MiB; verify, validate, SQLite"),
        Measurement("catalog_nochange_sync", nochange * 1000, "ms", detail="304 with a signed manifest"),
        Measurement("catalog_incremental_50", incremental * 1000, "ms", detail="50 upserts via the changes feed"),
        Measurement("catalog_search_p95", p95 * 1000, "ms",
                    detail=f"{len(timings)} queries over {len(index)} procedures; index build {build * 1000:.0f} ms"),
    ]
