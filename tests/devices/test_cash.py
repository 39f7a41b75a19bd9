"""ccTalk coin acceptor + bill validator over a socat pty pair with a simulated bus."""

from __future__ import annotations

import pytest

from devices import cctalk as cc
from devices.cash import CashAdapter
from devices.contract import Action, State, Supply
from devices.sim.cctalk import CcTalkBus, SimHopper
from devices.sim.servers import SerialPeerThread
from devices.supervisor import Supervisor
from devices.urls import parse_device_url
from tests.devices.conftest import wait_until

ALL_COINS = (50, 100, 200, 500, 1000, 2000)
ALL_BILLS = (2000, 5000, 10000, 20000, 50000)


def test_framing_checksum_and_resync_over_noise():
    message = cc.Message(cc.HOST, cc.COIN_ACCEPTOR, cc.H_ACK, b"\x01\x02").encode()
    assert sum(message) % 256 == 0
    echo = cc.Message(cc.COIN_ACCEPTOR, cc.HOST, cc.H_SIMPLE_POLL, b"").encode()
    found, _end = cc.find_message(b"\xff\x00" + echo + b"\x13" + message, cc.HOST)
    assert found is not None and found.data == b"\x01\x02" and found.source == cc.COIN_ACCEPTOR
    broken = message[:-1] + bytes([(message[-1] + 1) % 256])
    assert cc.find_message(broken, cc.HOST) == (None, 0)
    assert cc.coin_value_cents("MX1K0A") == 1000 and cc.coin_value_cents("MX050A") == 50
    assert cc.bill_value_cents("MX0200A") == 20000 and cc.bill_value_cents(".......") is None


@pytest.fixture
def bus(pty_pair):
    simulated = CcTalkBus(hopper=3)
    with SerialPeerThread(simulated, pty_pair.device, lifetime_s=30) as wire:
        yield simulated, wire, pty_pair


def cash_for(pair, ui=None, query: str = "&hopper=3") -> CashAdapter:
    url = parse_device_url(f"serial://{pair.host}?baudrate=9600&timeout=0.6&poll_ms=20{query}")
    adapter = CashAdapter("cash", "cctalk", url, ui.call_soon) if ui else CashAdapter("cash", "cctalk", url)
    if ui:
        adapter.subscribe(ui.record)
    return adapter


def test_denominations_identity_and_change_are_known_before_any_money(bus):
    _, _, pair = bus
    adapter = cash_for(pair)
    assert adapter.open().state == State.READY
    acceptance = adapter.acceptance()
    assert acceptance.coins_cents == ALL_COINS and acceptance.bills_cents == ALL_BILLS
    assert acceptance.can_give_change
    assert adapter.status().supply("hopper") == Supply.FULL
    capabilities = adapter.capabilities()
    assert "SIMCOIN-MX" in capabilities.model and "SIMBILL-MX" in capabilities.model
    assert "Coin Acceptor" in capabilities.model and "rev 1.4.2" in capabilities.model
    adapter.close()


def test_configured_subset_and_no_change_without_a_hopper(bus):
    _, _, pair = bus
    adapter = cash_for(pair, query="&accept=1,5,10,50,100")
    adapter.open()
    acceptance = adapter.acceptance()
    adapter.close()
    assert acceptance.coins_cents == (100, 500, 1000)
    assert acceptance.bills_cents == (5000, 10000)
    assert not acceptance.can_give_change and acceptance.reason == "cash.no_change"


@pytest.mark.parametrize(("counts", "level", "supply"), [(True, "empty", Supply.OUT), (False, "low", Supply.LOW)])
def test_empty_hopper_means_no_change_and_a_degraded_device(pty_pair, counts, level, supply):
    """A hopper that counts its coins and has none, or one whose only word is its low-level sensor."""
    simulated = CcTalkBus(hoppers=[SimHopper(3, counts=counts)])
    simulated.hopper().level = level
    with SerialPeerThread(simulated, pty_pair.device, lifetime_s=30):
        adapter = cash_for(pty_pair)
        status = adapter.open()
        adapter.close()
    assert not adapter.acceptance().can_give_change and adapter.acceptance().change_cents == 0
    assert status.state == State.DEGRADED and status.reason.code == "cash.no_change"
    assert status.supply("hopper") == supply


def test_inhibits_credits_and_bill_events_reach_the_ui(bus, ui):
    simulated, _, pair = bus
    adapter = cash_for(pair, ui)
    adapter.open()
    assert not simulated.coins.master_enabled  # nothing accepted until the kiosk asks for money
    simulated.insert_coin(2)
    adapter.poll()
    ui.pump()
    assert ui.kinds("credit.accepted") == [] and ui.kinds("cash.rejected")  # inhibited coin: returned

    adapter.enable()
    assert simulated.coins.master_enabled and simulated.coins.inhibit_mask == 0b111111
    assert simulated.bills.inhibit_mask == 0b11111
    simulated.insert_coin(4)  # $5
    simulated.insert_bill(3)  # $100
    ui.wait_event("credit.accepted", count=2)
    credits = [(e.data["kind"], e.data["cents"]) for e in ui.kinds("credit.accepted")]
    assert sorted(credits) == [("bill", 10000), ("coin", 500)]
    assert adapter.total_cents == 10500
    adapter.disable()
    assert not simulated.bills.master_enabled
    adapter.close()


def test_bill_jam_is_a_technician_error_with_an_event(bus, ui):
    simulated, _, pair = bus
    adapter = cash_for(pair, ui)
    adapter.open()
    adapter.enable()
    simulated.jam()
    ui.wait_event("cash.jam")
    assert wait_until(lambda: adapter.status().state == State.ERROR, 2)
    assert adapter.status().reason.code == "cash.jam"
    assert adapter.status().reason.action == Action.TECHNICIAN
    adapter.close()


def test_garbage_and_bad_checksums_are_retried(bus):
    simulated, wire, pair = bus
    adapter = cash_for(pair)
    adapter.open()
    wire.garbage_before_answer = b"\x01\x05\xffnoise"
    wire.corrupt_next = 2  # two answers in a row arrive with a broken checksum
    adapter.enable()
    simulated.insert_coin(1)
    credits = adapter.poll()
    adapter.close()
    assert credits == [("coin", 50)]


def test_host_frames_with_bad_checksums_get_no_answer(bus):
    simulated, _, _ = bus
    bad = bytearray(cc.Message(cc.COIN_ACCEPTOR, cc.HOST, cc.H_SIMPLE_POLL, b"").encode())
    bad[-1] ^= 0xFF
    assert simulated.feed(bytes(bad)) == b"" and simulated.bad_checksums == 1


def test_silent_bus_is_a_timeout_and_the_device_goes_offline(bus, ui):
    _, wire, pair = bus
    adapter = cash_for(pair, ui)
    adapter.open()
    wire.silent = True
    status = adapter.refresh()
    assert status.state == State.OFFLINE and status.reason.code == "transport.timeout"
    ui.wait_event("device.lost")
    wire.silent = False
    assert adapter.refresh().usable
    adapter.close()


def test_echo_of_a_single_wire_bus_is_ignored():
    adapter = CashAdapter("cash", "cctalk", parse_device_url("sim://?echo=1&hopper=3"))
    adapter.open()
    assert adapter.status().state == State.READY
    assert adapter.acceptance().can_give_change
    adapter.close()


def test_unplugged_and_plugged_back_without_restarting(bus, ui):
    simulated, _, pair = bus
    adapter = cash_for(pair, ui)
    adapter.open()
    adapter.enable()  # the citizen is paying when the cable is pulled
    supervisor = Supervisor({"cash": adapter}, interval_s=0.05, backoff_max_s=0.1)
    pair.stop()  # cable pulled: the device node disappears
    supervisor.check_once()
    assert adapter.status().state in (State.NO_DEVICE, State.OFFLINE)
    ui.wait_event("device.lost")

    pair.start()  # plugged back in: same path, new pty
    with SerialPeerThread(simulated, pair.device, lifetime_s=30):

        def back() -> bool:
            supervisor.check_once()
            return adapter.status().usable

        assert wait_until(back, 5, 0.05)
        ui.wait_event("device.found")
        assert simulated.coins.master_enabled  # acceptance restored without the app asking again
        simulated.insert_coin(3)
        assert ui.wait_event("credit.accepted").data["cents"] == 200
    assert adapter.status().counters.reconnects == 1
    adapter.close()


def test_simulator_process_signals_ready_before_the_host_opens(pty_pair):
    """The separate-process pattern: the simulator opens its end, says READY, then the host opens."""
    import subprocess
    import sys

    process = subprocess.Popen(
        ["timeout", "30", sys.executable, "-m", "devices.sim", "cctalk", "--device", pty_pair.device,
         "--lifetime", "20", "hopper=3"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "READY"  # bounded by `timeout 30`
        adapter = cash_for(pty_pair)
        assert adapter.open().state == State.READY
        assert adapter.acceptance().can_give_change
        adapter.close()
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_coins_pushed_at_an_inhibited_slot_are_not_lost_events_of_the_next_payment(bus):
    """Between payments nothing is polled; seven refused coins leave seven events in the queue.
    They cannot be credits: the next payment starts clean and counts its own coin."""
    simulated, _, pair = bus
    adapter = cash_for(pair)
    adapter.open()
    try:
        adapter.enable()
        adapter.disable()
        for _ in range(7):
            assert not simulated.insert_coin(5)  # refused: the acceptor is inhibited
        start = adapter.mark()
        adapter.enable()
        assert simulated.insert_coin(5)
        assert wait_until(lambda: adapter.mark().since(start).credits >= 1)
        adapter.disable()
        since = adapter.mark().since(start)
        assert (since.credits, since.cents, since.lost) == (1, 1000, 0)
    finally:
        adapter.close()


@pytest.mark.parametrize("taken, lost", [(3, 0), (7, 2)])
def test_what_a_dead_host_left_unread_is_found_at_the_next_open(bus, taken, lost):
    """The app dies mid-payment with the acceptor enabled: coins still go in and nobody reads
    them. The next open inhibits the acceptor first, then finds them after the payment's cursor
    (up to the five the queue keeps; the rest are counted as lost, never guessed)."""
    simulated, _, pair = bus
    dead = cash_for(pair, query="&hopper=3&poll_ms=600000")  # its poll thread never gets to read
    dead.open()
    cursor = dead.cursor()
    dead.enable()
    dead.close()  # no inhibit: as after a SIGKILL
    values = [ALL_COINS[(i % 4) + 2] for i in range(taken)]  # $2, $5, $10, $20, ...
    for value in values:
        assert simulated.insert_coin(ALL_COINS.index(value) + 1), "the acceptor stays enabled after the host died"
    restarted = cash_for(pair)
    try:
        restarted.open()
        assert not simulated.coins.master_enabled, "the next open inhibits before anything else"
        unread = restarted.unread_since(cursor)
        assert [(kind, cents) for kind, cents, _address, _event in unread.credits] == [
            ("coin", value) for value in values[lost:]]
        assert unread.lost == lost and unread.unknown == ()
        last_event = unread.credits[-1][3]
        assert restarted.unread_since({cc.COIN_ACCEPTOR: last_event, cc.BILL_VALIDATOR: cursor[cc.BILL_VALIDATOR]}
                                      ).credits == (), "nothing after the last recorded credit"
    finally:
        restarted.close()


def test_a_note_left_in_escrow_by_a_dead_host_is_handed_back_at_the_next_open(bus):
    """The app died while a note waited in escrow: it was never taken, so it is not a credit of
    the dead payment, and the next open hands it back instead of leaving the slot blocked."""
    simulated, _, pair = bus
    dead = cash_for(pair, query="&hopper=3&poll_ms=600000")
    dead.open()
    cursor = dead.cursor()
    dead.enable()
    assert simulated.insert_bill(2)  # $50 held in escrow; nobody routes it
    dead.close()
    restarted = cash_for(pair)
    try:
        restarted.open()
        assert simulated.bills.returned == [2] and simulated.bills.escrow is None
        assert restarted.unread_since(cursor).credits == ()
    finally:
        restarted.close()
