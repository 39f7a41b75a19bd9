"""Heartbeats from the monitor to the sandbox API, and the sandbox's fleet view."""

from __future__ import annotations

import requests

from kiosk.fleet.heartbeat import HeartbeatSender, read_audit_head
from kiosk.fleet.monitor import FleetMonitor
from kiosk.fleet.report import Sources
from tests.fleet.conftest import SIM_DEVICES


def fleet_view(sandbox) -> dict:
    answer = requests.get(f"{sandbox.url}/v1/sandbox/fleet", timeout=5)
    assert answer.status_code == 200
    return answer.json()


def monitor_for(config, clock, adapters=None, **options) -> FleetMonitor:
    sources = Sources(devices=(lambda: adapters) if adapters is not None else None)
    return FleetMonitor(config, sources, clock=clock, install_log_handler=False, **options)


def test_heartbeats_arrive_and_show_in_the_fleet_view(make_kiosk, open_adapters, sandbox, clock):
    _path, config = make_kiosk(devices=dict(SIM_DEVICES, printer=("escpos", "sim://?paper=low")))
    adapters = open_adapters(config)
    head = {"seq": 41, "mac": "9f2c1a0b" * 8}
    monitor = monitor_for(config, clock, adapters, audit_head=lambda: head)
    monitor.session_started()
    monitor.run_once()
    assert monitor.last_heartbeat is not None and monitor.last_heartbeat.ok, monitor.last_heartbeat

    view = fleet_view(sandbox)
    assert view["count"] == 1 and view["stale"] == 0
    entry = view["kiosks"][0]
    assert (entry["kiosk_id"], entry["status"], entry["stale"]) == ("kiosk-test-07", "warn", False)
    heartbeat = entry["heartbeat"]
    assert heartbeat["version"] == "0.1.0" and heartbeat["interval_s"] == 60
    assert heartbeat["location"] == "Mercado Juárez, local 3"
    assert heartbeat["attention"] == ["device.printer"]
    summary = heartbeat["summary"]
    assert summary["devices"]["printer"] == {"state": "degraded", "supplies": {"paper": "low"}}
    assert summary["queue"] == {"pending": 0, "needs_attendant": 0, "oldest_pending_age_s": None}
    assert summary["catalog"]["revision"] == 1 and summary["catalog"]["verified"] is True
    assert summary["sessions"] == {"started": 1, "ended": 0}
    assert heartbeat["audit_head"] == head


def test_one_heartbeat_per_interval_on_the_injected_clock(make_kiosk, sandbox, clock):
    _path, config = make_kiosk(devices={})
    monitor = monitor_for(config, clock)
    monitor.run_once()
    first = fleet_view(sandbox)["kiosks"][0]["received_at"]
    clock.advance(15)  # a status cycle, not yet a heartbeat
    monitor.run_once()
    assert fleet_view(sandbox)["kiosks"][0]["received_at"] == first
    assert monitor.sender.sent == 1
    clock.advance(45)
    monitor.run_once()
    assert monitor.sender.sent == 2 and fleet_view(sandbox)["kiosks"][0]["received_at"] == first + 60
    # The report made in the next cycle says how the last heartbeat went.
    monitor.run_once()
    assert monitor.latest.check("heartbeat").value == "sent, HTTP 200"


def test_a_kiosk_silent_for_three_intervals_is_stale(make_kiosk, sandbox, clock):
    _path, config = make_kiosk(devices={})
    monitor_for(config, clock).run_once()
    clock.advance(3 * 60 - 1)
    assert fleet_view(sandbox)["kiosks"][0]["stale"] is False
    clock.advance(2)
    view = fleet_view(sandbox)
    assert view["kiosks"][0]["stale"] is True and view["stale"] == 1
    assert view["kiosks"][0]["age_s"] == 181


def test_a_failing_api_is_counted_never_raised(make_kiosk, sandbox, clock):
    _path, config = make_kiosk(devices={})
    sandbox.server.stop()
    monitor = monitor_for(config, clock)
    report = monitor.run_once()
    assert report is not None and report.check("api").status == "fail"
    assert monitor.last_heartbeat is not None and not monitor.last_heartbeat.ok
    assert monitor.last_heartbeat.error == "ConnectionError" and monitor.sender.failures == 1
    assert monitor.metrics.registry.get_sample_value("kiosk_heartbeat_failures_total") == 1
    clock.advance(60)
    monitor.run_once()
    assert monitor.latest.check("heartbeat").status == "warn"


def test_a_broken_audit_provider_does_not_stop_the_heartbeat(make_kiosk, sandbox, clock):
    _path, config = make_kiosk(devices={})

    def broken() -> dict:
        raise RuntimeError("audit log locked")

    monitor = monitor_for(config, clock, audit_head=broken)
    monitor.run_once()
    assert monitor.last_heartbeat.ok
    assert "audit_head" not in fleet_view(sandbox)["kiosks"][0]["heartbeat"]
    assert read_audit_head(lambda: {"seq": -1, "mac": "x"}) is None
    assert read_audit_head(lambda: None) is None
    assert read_audit_head(None) is None


def test_the_sandbox_refuses_malformed_heartbeats(sandbox):
    url = f"{sandbox.url}/v1/kiosks/kiosk-test-07/heartbeat"
    good = {"kiosk_id": "kiosk-test-07", "location": "x", "version": "0.1.0", "sent_at": "2026-11-21T10:30:00Z",
            "interval_s": 60, "status": "ok", "attention": [], "summary": {}}
    assert requests.post(url, json=good, timeout=5).status_code == 200
    for change, field in [({"kiosk_id": "another"}, "kiosk_id"), ({"status": "fine"}, "status"),
                          ({"interval_s": 0}, "interval_s"), ({"interval_s": True}, "interval_s"),
                          ({"sent_at": "yesterday"}, "sent_at"), ({"summary": []}, "summary"),
                          ({"attention": "device.printer"}, "attention"),
                          ({"audit_head": {"seq": "1", "mac": "ab" * 8}}, "audit_head")]:
        answer = requests.post(url, json=dict(good, **change), timeout=5)
        assert answer.status_code == 422, change
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert f"'{field}'" in answer.json()["detail"]
    without_version = {key: value for key, value in good.items() if key != "version"}
    assert requests.post(url, json=without_version, timeout=5).status_code == 422
    assert requests.post(url, data=b"{not json", timeout=5).status_code == 400
    assert requests.post(url, data=b"x" * 70000, timeout=5).status_code == 413
    assert fleet_view(sandbox)["count"] == 1


def test_sender_reports_the_servers_problem(sandbox):
    sender = HeartbeatSender(sandbox.url, "kiosk-test-07", 1, 2)
    result = sender.send({"kiosk_id": "kiosk-test-07"})
    assert not result.ok and result.status_code == 422 and "'version'" in result.error
    assert sender.failures == 1 and sender.sent == 0
    sender.close()
