"""Transaction benchmarks (issue 6).

- `outbox_enqueue_p95`: a durable `Outbox.create` (row + history, one BEGIN IMMEDIATE … COMMIT,
  WAL, synchronous=FULL) against a bare sqlite3 INSERT + COMMIT with the same pragmas.
- `outbox_drain_throughput`: queued transactions drained into the sandbox (loopback) by the
  Submitter (write-ahead `submitted` + `confirmed` commits, Idempotency-Key) against a plain
  `requests` loop posting the same payloads to a fresh sandbox. KIOSK_BENCH_DRAIN_N (10,000).
- `soak_rss_growth`: resident memory growth over a 1,000-transaction soak through the service
  with simulated devices (after a 100-transaction warm-up); KIOSK_BENCH_SOAK_N.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

from bench.harness import Measurement

ENQUEUE_RUNS = 300
DRAIN_N = int(os.environ.get("KIOSK_BENCH_DRAIN_N", "10000"))
SOAK_N = int(os.environ.get("KIOSK_BENCH_SOAK_N", "1000"))


def _p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]


def _payload(i: int) -> dict:
    return {"kind": "payment", "account": {"kind": "clave_catastral", "ref": "001-002-003-0001"},
            "amount_cents": 1000 + i % 500, "folio": f"B-{i:06d}", "kiosk_id": "bench"}


def bench_enqueue(directory: Path) -> Measurement:
    from offline_cache.outbox import Outbox

    box = Outbox(directory / "outbox.sqlite")
    bare = sqlite3.connect(directory / "bare.sqlite", isolation_level=None)
    bare.execute("PRAGMA journal_mode=WAL")
    bare.execute("PRAGMA synchronous=FULL")
    bare.execute("CREATE TABLE t (key TEXT UNIQUE, folio TEXT, amount INTEGER, payload TEXT, at REAL)")
    ours, baseline = [], []
    for i in range(ENQUEUE_RUNS):  # interleaved, so disk noise hits both alike
        payload = _payload(i)
        started = time.perf_counter()
        box.create("payment", payload["amount_cents"], folio=payload["folio"], payload=payload,
                   account=("clave_catastral", "001-002-003-0001"))
        ours.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        bare.execute("BEGIN IMMEDIATE")
        bare.execute("INSERT INTO t VALUES (?,?,?,?,?)", (str(uuid.uuid4()), payload["folio"],
                                                          payload["amount_cents"], json.dumps(payload), time.time()))
        bare.execute("COMMIT")
        baseline.append((time.perf_counter() - started) * 1000)
    return Measurement("outbox_enqueue_p95", _p95(ours), "ms", _p95(baseline), "bare sqlite3 insert+commit p95",
                       detail=f"{ENQUEUE_RUNS} each, WAL + synchronous=FULL; ours = row + history + read-back")


def _fill_queue(path: Path, n: int) -> None:
    """Set-up, not measured: n queued rows written in one transaction."""
    from offline_cache.outbox import Outbox

    Outbox(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    now = time.time()
    conn.execute("BEGIN")
    for i in range(n):
        payload = _payload(i)
        conn.execute("INSERT INTO transactions (key, folio, kind, account_kind, account_ref, amount_cents, state,"
                     " payload, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                     (str(uuid.uuid4()), payload["folio"], "payment", "clave_catastral", f"acc-{i % 50}",
                      payload["amount_cents"], "queued", json.dumps(payload, sort_keys=True), now, now))
    conn.execute("COMMIT")
    conn.close()


def _sandbox(directory: Path):
    from kiosk.sandbox import SandboxServer, create_app
    from kiosk.sandbox.payments import Payments

    app = create_app(data_dir=directory)
    Payments().install(app)
    server = SandboxServer(app, "127.0.0.1", 0)
    # The sandbox writes headers and body in two segments; with Nagle on, each answer waits for
    # the client's delayed ACK (~40 ms), which would measure the kernel, not the kiosk. Accepted
    # sockets inherit TCP_NODELAY from the listening one (Linux). Same for both sides of the ratio.
    server.httpd.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return server.start()


def bench_drain(directory: Path) -> Measurement:
    import requests

    from kiosk.transactions.api import ApiClient
    from kiosk.transactions.submitter import Submitter
    from offline_cache.outbox import Outbox

    _fill_queue(directory / "drain.sqlite", DRAIN_N)
    server = _sandbox(directory / "sandbox-a")
    try:
        box = Outbox(directory / "drain.sqlite")
        submitter = Submitter(box, ApiClient(server.url), base_s=0.01, cap_s=0.1)
        started = time.perf_counter()
        drained = submitter.drain(3600)
        ours = DRAIN_N / (time.perf_counter() - started)
    finally:
        server.stop()
    server = _sandbox(directory / "sandbox-b")
    try:
        session = requests.Session()
        bodies = [json.dumps(_payload(i), sort_keys=True).encode() for i in range(DRAIN_N)]
        started = time.perf_counter()
        for i, body in enumerate(bodies):
            response = session.post(server.url + "/v1/transactions", data=body, timeout=10,
                                    headers={"Idempotency-Key": f"plain-{i}", "Content-Type": "application/json"})
            response.raise_for_status()
        plain = DRAIN_N / (time.perf_counter() - started)
    finally:
        server.stop()
    return Measurement("outbox_drain_throughput", ours, "tx/s", plain, "plain requests loop",
                       detail=f"{DRAIN_N} transactions, 50 accounts, sandbox on loopback; drained={drained}")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_soak(directory: Path) -> Measurement:
    import random

    from kiosk.catalog.sample import load_sample
    from kiosk.core.config import load_config
    from kiosk.transactions.api import ApiClient
    from kiosk.transactions.load import one_transaction, open_sim_devices
    from kiosk.transactions.service import TransactionService
    from offline_cache.outbox import Outbox

    server = _sandbox(directory / "sandbox-soak")
    config_path = directory / "soak.toml"
    config_path.write_text(f'[kiosk]\ndata_dir = "{directory / "soak"}"\n[api]\nbase_url = "{server.url}"\n'
                           "[transactions]\nretry_base_s = 0.05\nretry_cap_s = 0.5\nmin_free_mb = 1\n")
    config = load_config(config_path)
    adapters = open_sim_devices()
    service = TransactionService(config, Outbox(config.data_path / "outbox.sqlite"), ApiClient(server.url),
                                 adapters)
    catalog = {record["id"]: record for record in load_sample()["procedures"]}
    rng = random.Random(3)
    try:
        service.start()
        warm = max(1, SOAK_N // 10)
        for _ in range(warm):
            one_transaction(service, rng, catalog)
        before = _rss_mb()
        started = time.perf_counter()
        for _ in range(SOAK_N - warm):
            one_transaction(service, rng, catalog)
        service.submitter.stop()
        service.submitter.drain(120)
        seconds = time.perf_counter() - started
        after = _rss_mb()
    finally:
        service.stop()
        for adapter in adapters.values():
            adapter.close()
        server.stop()
    return Measurement("soak_rss_growth", after - before, "MB",
                       detail=f"{SOAK_N} transactions ({warm} warm-up) in {seconds:.1f} s; RSS {before:.1f} -> "
                              f"{after:.1f} MB; counts {service.outbox.counts()}")


def run() -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="bench-tx-") as name:
        directory = Path(name)
        return [bench_enqueue(directory), bench_drain(directory), bench_soak(directory)]


if __name__ == "__main__":
    for measurement in run():
        print(measurement)
