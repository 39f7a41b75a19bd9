"""Prometheus metrics scraped over HTTP from 127.0.0.1, as a city's collector (through its
tunnel) would see them."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from kiosk.fleet.metrics import FleetMetrics, MetricsServer
from kiosk.fleet.report import Sources, collect_report
from offline_cache.outbox import Outbox
from tests.fleet.conftest import SIM_DEVICES


@pytest.fixture
def served() -> Iterator[tuple[FleetMetrics, MetricsServer]]:
    metrics = FleetMetrics("kiosk-test-07", "Mercado Juárez, local 3")
    server = metrics.serve(0)
    try:
        yield metrics, server
    finally:
        server.stop()


def scrape(server: MetricsServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = requests.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    assert answer.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}


def test_metrics_show_devices_supplies_queue_and_catalog(served, make_kiosk, open_adapters, clock):
    metrics, server = served
    devices = dict(SIM_DEVICES, printer=("escpos", "sim://?paper=low"))
    _path, config = make_kiosk(devices=devices)
    clock.catch_up()  # the sync stamped real time
    outbox = Outbox(config.data_path / "outbox.sqlite", clock=lambda: clock() - 120)
    for number in range(3):
        record = outbox.create("request", 0, folio=f"R-{number}")
        outbox.transition(record.key, "queued")
    outbox.close()
    adapters = open_adapters(config)
    metrics.observe(collect_report(config, Sources(devices=lambda: adapters, clock=clock)))
    metrics.session_started()
    metrics.session_started()
    metrics.session_ended("idle")
    metrics.log_record("ERROR")
    metrics.heartbeat(ok=False)

    values = scrape(server)
    assert values[("kiosk_up", ())] == 1
    assert values[("kiosk_build_info", (("kiosk_id", "kiosk-test-07"), ("location", "Mercado Juárez, local 3"),
                                        ("version", "0.1.0")))] == 1
    printer = (("device", "printer"), ("kind", "printer"))
    assert values[("kiosk_device_state", (*printer, ("kiosk_device_state", "degraded")))] == 1
    assert values[("kiosk_device_state", (*printer, ("kiosk_device_state", "ready")))] == 0
    assert values[("kiosk_device_supply_level", (("device", "printer"), ("supply", "paper")))] == 1  # low
    assert values[("kiosk_device_supply_level", (("device", "cash"), ("supply", "hopper")))] == 2  # full
    assert values[("kiosk_device_usable", (("device", "card_reader"), ("kind", "card_reader")))] == 1
    assert values[("kiosk_queue_transactions", (("state", "queued"),))] == 3
    assert values[("kiosk_queue_pending", ())] == 3
    assert values[("kiosk_queue_oldest_pending_age_seconds", ())] == pytest.approx(120, abs=1)
    assert values[("kiosk_catalog_revision", ())] == 1
    assert 0 <= values[("kiosk_catalog_sync_age_seconds", ())] < 60
    assert values[("kiosk_catalog_signature_verified", ())] == 1
    assert values[("kiosk_api_up", ())] == 1 and 0 < values[("kiosk_api_latency_seconds", ())] < 2
    assert values[("kiosk_disk_free_bytes", ())] > 0
    assert values[("kiosk_health_status", ())] == 1  # warn: paper low
    assert values[("kiosk_health_check_status", (("check", "device.printer"),))] == 1
    assert values[("kiosk_sessions_started_total", ())] == 2
    assert values[("kiosk_sessions_ended_total", (("reason", "idle"),))] == 1
    assert values[("kiosk_log_errors_total", (("level", "error"),))] == 1
    assert values[("kiosk_heartbeat_failures_total", ())] == 1
    assert values[("kiosk_heartbeats_sent_total", ())] == 0


def test_a_never_synced_catalog_is_infinitely_old(served, make_kiosk, clock):
    metrics, server = served
    _path, config = make_kiosk(devices={}, sync=False)
    metrics.observe(collect_report(config, Sources(clock=clock)))
    assert math.isinf(scrape(server)[("kiosk_catalog_sync_age_seconds", ())])


def test_the_endpoint_listens_on_loopback_only(served):
    _metrics, server = served
    assert server.server.server_address[0] == "127.0.0.1"
