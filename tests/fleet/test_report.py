"""The health report against real counterparts: the sandbox API on loopback, simulated devices,
the SQLite stores on disk; and `kiosk diag` as a technician runs it."""

from __future__ import annotations

import datetime as dt
import json
import os

from kiosk.catalog.service import store_path
from kiosk.catalog.store import CatalogStore
from kiosk.fleet.model import FAIL, OK, SECTIONS, WARN
from kiosk.fleet.report import Sources, collect_report
from kiosk.fleet.statusfile import status_path, write_status
from offline_cache.outbox import Outbox
from tests.fleet.conftest import SIM_DEVICES, kiosk_diag


def statuses(report) -> dict[str, str]:
    return {check.name: check.status for check in report.checks}


def test_a_healthy_kiosk_reports_ok_in_every_section(make_kiosk, open_adapters, clock):
    _path, config = make_kiosk()
    adapters = open_adapters(config)
    report = collect_report(config, Sources(devices=lambda: adapters, clock=clock))
    assert report.needs_attention == [], report.render_text()
    assert report.status == OK
    assert {check.section for check in report.checks} == set(SECTIONS)
    assert {f"device.{name}" for name in SIM_DEVICES} <= set(statuses(report))
    assert report.check("device.printer").value == "ready; paper full"
    assert report.check("api").raw["up"] is True and report.check("api").raw["server_catalog_revision"] == 1
    assert report.check("catalog.age").raw["revision"] == 1
    assert report.check("catalog.signature").raw["verified"] is True
    assert report.check("tls").value == "not TLS (API on loopback)"
    assert json.loads(json.dumps(report.to_dict()))["status"] == "ok"


def test_kiosk_diag_exits_0_and_its_json_matches_the_report(make_kiosk):
    path, _config = make_kiosk()
    text = kiosk_diag(path)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "Nothing needs attention." in text.stdout and "device.printer" in text.stdout
    result = kiosk_diag(path, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "ok" and document["needs_attention"] == []
    assert document["kiosk_id"] == "kiosk-test-07" and document["origin"] == "shell"
    checks = {check["name"]: check for section in document["sections"] for check in section["checks"]}
    assert [section["id"] for section in document["sections"]] == list(SECTIONS)
    assert checks["device.cash"]["raw"]["supplies"] == {"hopper": "full"}
    assert checks["app"]["raw"]["running"] is False  # no app: the command opened the devices itself
    assert checks["config"]["raw"]["devices"]["printer"] == {"driver": "escpos", "scheme": "sim"}


def test_printer_out_of_paper_fails_and_diag_names_it(make_kiosk, open_adapters, clock):
    devices = dict(SIM_DEVICES, printer=("escpos", "sim://?paper=out"))
    path, config = make_kiosk(devices=devices)
    adapters = open_adapters(config)
    report = collect_report(config, Sources(devices=lambda: adapters, clock=clock))
    printer = report.check("device.printer")
    assert printer.status == FAIL and printer.raw["supplies"] == {"paper": "out"}
    assert "paper_out" in printer.value and "Load paper" in printer.explanation
    assert [check.name for check in report.needs_attention] == ["device.printer"]
    result = kiosk_diag(path)
    assert result.returncode == 1
    assert "- device.printer:" in result.stdout and "out of paper" in result.stdout


def test_low_paper_is_a_warning_not_a_failure(make_kiosk, open_adapters, clock):
    _path, config = make_kiosk(devices={"printer": ("escpos", "sim://?paper=low")})
    adapters = open_adapters(config)
    printer = collect_report(config, Sources(devices=lambda: adapters, clock=clock)).check("device.printer")
    assert printer.status == WARN and printer.value == "degraded (printer.paper_low); paper low"


def test_a_stopped_api_fails_the_api_check_and_diag_exits_1(make_kiosk, sandbox, open_adapters, clock):
    path, config = make_kiosk()
    sandbox.server.stop()
    adapters = open_adapters(config)
    report = collect_report(config, Sources(devices=lambda: adapters, clock=clock))
    api = report.check("api")
    assert api.status == FAIL and api.value == "unreachable (connection refused)"
    assert [check.name for check in report.needs_attention] == ["api"]  # the stored catalog is still fresh
    result = kiosk_diag(path)
    assert result.returncode == 1 and "- api: The municipal API at http://127.0.0.1:" in result.stdout


def test_an_old_catalog_asks_for_attention(make_kiosk, clock):
    path, config = make_kiosk(devices={})
    store = CatalogStore(store_path(config))
    two_hours_ago = dt.datetime.fromtimestamp(clock() - 7200, dt.UTC).isoformat(timespec="seconds")
    store.update_state(synced_at=two_hours_ago)
    store.record_failure("network", "connection refused")
    store.close()
    age = collect_report(config, Sources(clock=clock)).check("catalog.age")
    assert age.status == WARN and "synced 2 h 0 min ago" in age.value
    assert "more than 60 min" in age.explanation and "network (connection refused)" in age.explanation
    clock.advance(-7200 + 60)  # an hour-old sync an hour ago is fine: the limit is what counts
    assert collect_report(config, Sources(clock=clock)).check("catalog.age").status == OK
    result = kiosk_diag(path)
    assert result.returncode == 1 and "- catalog.age:" in result.stdout


def test_no_catalog_at_all_fails(make_kiosk, clock):
    _path, config = make_kiosk(devices={}, sync=False)
    check = collect_report(config, Sources(clock=clock)).check("catalog.age")
    assert check.status == FAIL and "kiosk sync" in check.explanation
    assert not store_path(config).exists()  # the report never creates the kiosk's files


def test_a_deep_old_queue_and_an_attendant_case_ask_for_attention(make_kiosk, clock):
    path, config = make_kiosk(devices={})
    created_at = clock() - 1800  # half an hour ago, over max_queue_age_s (900)
    outbox = Outbox(config.data_path / "outbox.sqlite", clock=lambda: created_at)
    for number in range(12):
        record = outbox.create("payment", 10000 + number, folio=f"T-{number:04d}")
        outbox.transition(record.key, "paying")
        outbox.transition(record.key, "paid")
        outbox.transition(record.key, "queued" if number else "needs_attendant", reason="payment.timeout")
    outbox.close()
    report = collect_report(config, Sources(clock=clock))
    backlog, attendant = report.check("queue.backlog"), report.check("queue.attendant")
    assert backlog.status == WARN and backlog.value == "11 pending, oldest 30 min"
    assert backlog.raw["counts"]["queued"] == 11 and backlog.raw["oldest_pending_age_s"] == 1800
    assert attendant.status == WARN and attendant.raw["attention"] == [
        {"folio": "T-0000", "state": "needs_attendant", "reason": "payment.timeout"}]
    result = kiosk_diag(path, "--json")
    assert result.returncode == 1
    assert {"queue.backlog", "queue.attendant"} <= set(json.loads(result.stdout)["needs_attention"])


def test_free_disk_below_the_limits(make_kiosk, clock):
    _path, config = make_kiosk(devices={}, fleet={"min_free_mb": 1000000})
    disk = collect_report(config, Sources(clock=clock)).check("disk")
    assert disk.status == WARN and "attention below 1000000 MB" in disk.explanation
    _path, config = make_kiosk(devices={}, fleet={"min_free_mb": 1000000}, transactions={"min_free_mb": 100000})
    disk = collect_report(config, Sources(clock=clock)).check("disk")
    if disk.raw["free_bytes"] < 100000 * 1024 * 1024:  # a machine with over 100 GB free cannot show this one
        assert disk.status == FAIL and "stops taking money" in disk.explanation


def test_the_report_carries_no_secrets(tmp_path, sandbox, clock):
    from kiosk.core.config import load_config
    from tests.fleet.conftest import write_config

    secret_url = sandbox.url.replace("http://", "http://kiosk:s3cr3t@") + "?token=abc123"
    path = write_config(tmp_path, secret_url, sandbox.public_key,
                        devices={"printer": ("escpos", "sim://?code_page=CP858&password=hunter2")})
    report = collect_report(load_config(path), Sources(clock=clock))
    text = json.dumps(report.to_dict())
    for secret in ("s3cr3t", "abc123", "hunter2", "token="):
        assert secret not in text
    assert report.check("config").raw["api_base_url"] == sandbox.url


def test_diag_uses_the_running_apps_device_states(make_kiosk, open_adapters, clock):
    """While the app holds the devices, `kiosk diag` shows what the app's monitor last wrote."""
    path, config = make_kiosk(devices=dict(SIM_DEVICES, printer=("escpos", "sim://?paper=out")))
    adapters = open_adapters(config)
    app_report = collect_report(config, Sources(devices=lambda: adapters, clock=clock))
    # The configuration says paper=out, the "app" (this test process, alive) says so too; diag
    # must not open the devices: a fresh status.json is enough.
    write_status(status_path(config.data_path), app_report, clock(), config.fleet.status_interval_s)
    result = kiosk_diag(path, "--json")
    document = json.loads(result.stdout)
    checks = {check["name"]: check for section in document["sections"] for check in section["checks"]}
    assert result.returncode == 1 and checks["device.printer"]["status"] == "fail"
    assert checks["app"]["raw"]["running"] is True and checks["app"]["raw"]["pid"] == os.getpid()
    assert checks["memory"]["value"].startswith("app ")  # the app's memory, not the shell's


def test_diag_ignores_a_stale_status_file(make_kiosk, open_adapters, clock):
    path, config = make_kiosk(devices={"printer": ("escpos", "sim://")})
    adapters = open_adapters(config)
    stale = collect_report(config, Sources(devices=lambda: adapters, clock=clock))
    write_status(status_path(config.data_path), stale, clock() - 3600, config.fleet.status_interval_s)
    for adapter in adapters.values():
        adapter.close()
    result = kiosk_diag(path, "--json")
    checks = {check["name"]: check for section in json.loads(result.stdout)["sections"]
              for check in section["checks"]}
    assert result.returncode == 0, result.stdout
    assert checks["app"]["raw"]["running"] is False and "not running" in checks["app"]["value"]


def test_bad_configuration_exits_2(tmp_path, sandbox):
    from tests.fleet.conftest import write_config

    path = write_config(tmp_path, sandbox.url, devices={"printer": ("escpos", "smoke://x")})
    result = kiosk_diag(path)
    assert result.returncode == 2 and "configuration error" in result.stderr
    missing = kiosk_diag(tmp_path / "nowhere.toml")
    assert missing.returncode == 2


def test_diag_self_test_runs_each_devices_own_test(make_kiosk):
    path, _config = make_kiosk(devices={"printer": ("escpos", "sim://"), "card_reader": ("pcsc", "sim://?card=absent")})
    result = kiosk_diag(path, "--self-test", "--json")
    checks = {check["name"]: check for section in json.loads(result.stdout)["sections"]
              for check in section["checks"]}
    printer, reader = checks["device.printer"], checks["device.card_reader"]
    assert printer["status"] == "ok" and printer["raw"]["self_test"]["ok"] is True
    assert printer["value"].endswith("self-test passed")
    # Ready, but its self-test needs a card: the self-test's verdict counts.
    assert reader["raw"]["state"] == "ready" and reader["status"] == "fail"
    assert "self-test failed (card)" in reader["explanation"]
    assert result.returncode == 1
