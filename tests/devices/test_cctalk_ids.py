"""ccTalk coin and bill ids the kiosk does not know: a position it does not accept, never a crash."""

from __future__ import annotations

import pytest

from devices import cctalk as cc
from devices.cash import CashAdapter
from devices.contract import State
from devices.sim import cctalk as sim_cctalk
from devices.sim.cctalk import CcTalkBus
from devices.sim.servers import SerialPeerThread
from devices.urls import parse_device_url
from tests.devices.conftest import wait_until


@pytest.mark.parametrize(("coin_id", "cents"), [
    ("MX050A", 50), ("MX100A", 100), ("MX1K0A", 1000), ("MX2K0A", 2000), ("MX2K5A", 2500),
    ("MX4K3B", 4300),  # the sixth character is the issue code, not part of the value
    ("EU1M0A", 1_000_000), ("EU4M1A", 4_100_000), ("MXK50A", 500),
])
def test_coin_values_are_exact(coin_id, cents):
    assert cc.coin_value_cents(coin_id) == cents


@pytest.mark.parametrize("coin_id", [
    "MX2KXA", "......", "MX000A", "", "MX", "MX1KKA", "MX-10A", "MX1.5A", "MX²00A", "MX 1 A", "MXK..A",
    "MX\x00\x00\x00A",
])
def test_unknown_coin_ids_are_positions_the_kiosk_does_not_accept(coin_id):
    assert not cc.coin_value_cents(coin_id)


@pytest.mark.parametrize("bill_id", [".......", "MX²²²²A", "MX-020A", "MX0000A", "MX 20 A", "MX00", "", "MX1_00A"])
def test_unknown_bill_ids_are_positions_the_kiosk_does_not_accept(bill_id):
    assert not cc.bill_value_cents(bill_id)


def test_a_coin_table_with_an_unknown_id_leaves_the_acceptor_usable(pty_pair, monkeypatch, ui):
    """The acceptor reports `MX2KXA` at position 2: that coin is refused, the others are taken."""
    monkeypatch.setattr(sim_cctalk, "MXN_COINS", ["MX050A", "MX2KXA", "MX100A", "......"])
    bus = CcTalkBus()
    with SerialPeerThread(bus, pty_pair.device, lifetime_s=30):
        url = parse_device_url(f"serial://{pty_pair.host}?baudrate=9600&timeout=0.6&poll_ms=20&bill=0")
        adapter = CashAdapter("cash", "cctalk", url, ui.call_soon)
        adapter.subscribe(ui.record)
        try:
            assert adapter.open().state == State.READY
            assert adapter.acceptance().coins_cents == (50, 100)
            adapter.enable()
            bus.insert_coin(2)  # not enabled by the kiosk: the acceptor returns it
            bus.insert_coin(3)
            credit = ui.wait_event("credit.accepted")
            assert credit.data["cents"] == 100
            assert wait_until(lambda: adapter.status().usable)
        finally:
            adapter.close()
