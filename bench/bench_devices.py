"""Device benchmarks: a receipt rendered to ESC/POS bytes, and an identity read from the virtual
ID card through pcscd + vsmartcard vpcd (the same path a real reader takes, minus the card's
own speed). pcscd is started for the run if it is not running, and stopped afterwards.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import datetime

from bench.harness import Measurement

RENDER_RUNS = 50
READ_RUNS = 10


def _receipt():
    from devices.printer import Receipt

    return Receipt(
        municipality="Municipio de San Andrés del Valle", folio="F-2026-000123",
        procedure="Pago del impuesto predial – 2026", concept="Predial bimestre 6, ¿pagó? ¡sí!",
        amount_cents=125050, payment_method="VISA **** 4242", issued_at=datetime(2026, 11, 21, 10, 30),
        kiosk_id="kiosk-demo-01", location="Palacio Municipal, planta baja",
        verification="https://verifica.sanandres.gob.mx/r/F-2026-000123?h=9f2c1a",
        header_lines=("Tesorería Municipal",),
    )


def _p95(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.95) - 1)]


def bench_receipt_render() -> Measurement:
    from devices.printer import render_receipt

    receipt = _receipt()
    started = time.perf_counter()
    render_receipt(receipt)  # the first render loads python-escpos' printer profiles
    cold = (time.perf_counter() - started) * 1000
    samples = []
    for _ in range(RENDER_RUNS):
        started = time.perf_counter()
        data = render_receipt(receipt)
        samples.append((time.perf_counter() - started) * 1000)
    return Measurement(
        "receipt_render", statistics.median(samples), "ms",
        detail=f"median of {RENDER_RUNS}, p95 {_p95(samples):.2f} ms, {len(data)} bytes, native QR, CP858; "
               f"first call {cold:.0f} ms (profile load, done at printer open)",
    )


def bench_card_identity_read() -> Measurement | None:
    from devices.sim.pcsc_env import PcscDaemon, missing_requirements

    missing = missing_requirements()
    if missing:
        print(f"bench_devices: card_identity_read skipped, missing: {missing}", file=sys.stderr)
        return None
    from devices.card_reader import CardReaderAdapter
    from devices.sim.card import VirtualIdCard, VpcdCardClient
    from devices.urls import parse_device_url

    daemon = PcscDaemon(lifetime_s=120)
    daemon.ensure()
    adapter = CardReaderAdapter("card_reader", "pcsc", parse_device_url("pcsc://Virtual PCD 00 00?profile=esteid"))
    card = VpcdCardClient(VirtualIdCard("normal"), lifetime_s=60)
    try:
        adapter.open()
        card.insert()
        deadline = time.monotonic() + 5
        while not adapter.card_present and time.monotonic() < deadline:
            time.sleep(0.01)
        samples = []
        for _ in range(READ_RUNS):
            started = time.perf_counter()
            adapter.read_identity()
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        card.remove()
        adapter.close()
        daemon.stop()
    return Measurement(
        "card_identity_read", statistics.median(samples), "ms",
        detail=f"median of {READ_RUNS}, max {max(samples):.1f} ms; esteid profile (10 APDUs) via pcscd + vpcd",
    )


def run() -> list[Measurement]:
    measurements = [bench_receipt_render()]
    card = bench_card_identity_read()
    if card is not None:
        measurements.append(card)
    return measurements
