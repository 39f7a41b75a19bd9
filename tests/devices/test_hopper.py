"""Change from a ccTalk payout hopper, and bills held in escrow, over a socat pty pair with the
simulated bus as the peer; the hopper's counters and what they prove; a SIGKILL mid-payout."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import cctalk as cc
from devices.cash import CashAdapter
from devices.contract import DeviceError, State, Supply
from devices.hopper import (
    BLOCKING_FLAGS,
    HopperInfo,
    HopperStatus,
    PayoutRequest,
    conclude,
    next_counter,
    parse_hopper_status,
    parse_level,
    parse_test_flags,
    plan_change,
)
from devices.registry import create_adapter
from devices.sim.cctalk import CcTalkBus, SimHopper
from devices.sim.servers import SerialPeerThread
from devices.urls import parse_device_url
from tests.conftest import count_example, fuzz_settings
from tests.devices.conftest import PtyPair, wait_until

FAST = 50.0  # coins per second: payouts of a few coins take a fraction of a second


def bus_with(**hopper: object) -> CcTalkBus:
    return CcTalkBus(hoppers=[SimHopper(3, **{"rate": FAST, **hopper})])  # type: ignore[arg-type]


@contextmanager
def served(pair: PtyPair, peer: object) -> Iterator[None]:
    with SerialPeerThread(peer, pair.device, lifetime_s=40):  # type: ignore[arg-type]
        yield


def adapter_on(pair: PtyPair, ui=None, query: str = "&hopper=3") -> CashAdapter:
    url = parse_device_url(f"serial://{pair.host}?baudrate=9600&timeout=0.6&poll_ms=20&payout_poll_ms=20{query}")
    adapter = CashAdapter("cash", "cctalk", url, ui.call_soon) if ui else CashAdapter("cash", "cctalk", url)
    if ui:
        adapter.subscribe(ui.record)
    return adapter


@pytest.fixture
def opened(pty_pair: PtyPair):
    """A factory: serve `bus` on the pty and open an adapter on the host end; closed afterwards."""
    adapters: list[CashAdapter] = []
    stack: list = []

    def make(bus: CcTalkBus, ui=None, query: str = "&hopper=3", peer: object | None = None) -> CashAdapter:
        context = served(pty_pair, peer or bus)
        context.__enter__()
        stack.append(context)
        adapter = adapter_on(pty_pair, ui, query)
        adapters.append(adapter)
        assert adapter.open().usable
        return adapter

    yield make
    for adapter in adapters:
        adapter.close()
    for context in reversed(stack):
        context.__exit__(None, None, None)


# ---- paying change ------------------------------------------------------------------------------

def test_a_payout_completes_and_status_polls_see_it_progress(opened, ui):
    bus = bus_with(rate=25.0)
    adapter = opened(bus, ui)
    assert adapter.acceptance().hoppers[0].coin_cents == 1000  # the hopper named its coin: MX1K0A
    request = adapter.prepare_payout(8)
    assert bus.hopper_tally()["dispenses"] == 0  # preparing moves nothing
    assert adapter.dispense(8, expect_counter=request.event_counter) == request.event_counter
    seen = set()
    while (status := adapter.payout_status()).remaining:
        seen.add(status.remaining)
        time.sleep(0.02)
    assert len(seen) >= 3  # paid over time, not at once
    result = adapter.wait_payout(5)
    assert (result.paid, result.unpaid, result.certain, result.reason) == (8, 0, True, "paid")
    assert result.event_counter == next_counter(request.event_counter)
    assert bus.hopper_tally()["paid"] == 8 and bus.hopper_tally()["inventory"] == 92
    assert adapter.acceptance().hoppers[0].coins_counted == 92
    assert ui.wait_event("payout.completed").data["paid_cents"] == 8000
    assert not bus.hopper().enabled  # disabled again once the payout is over


def test_a_hopper_that_runs_empty_pays_what_it_has_and_says_what_it_owes(opened, ui):
    bus = bus_with(inventory=3, timeout_s=0.3)
    adapter = opened(bus, ui)
    adapter.dispense(5)
    result = adapter.wait_payout(5)
    assert (result.paid, result.unpaid) == (3, 2) and result.paid + result.unpaid == 5
    assert result.certain and result.reason == "short" and "payout timeout" in result.faults
    assert bus.hopper_tally()["paid"] == 3
    assert adapter.status().supply("hopper") == Supply.OUT
    assert adapter.status().state == State.DEGRADED and adapter.status().reason.code == "cash.no_change"
    assert adapter.acceptance().change_cents == 0 and adapter.plan_change(1000) is None
    bus.control(lambda: setattr(bus.hopper(), "inventory", 60))  # refilled: the timeout flag must not block
    assert adapter.refresh().state == State.READY and adapter.plan_change(1000) == {3: 1}


def test_a_jam_stops_the_payout_and_keeps_the_hopper_out_of_service(opened, ui):
    bus = bus_with(timeout_s=0.3)
    bus.hopper().jam_after = 2
    adapter = opened(bus, ui)
    adapter.dispense(6)
    result = adapter.wait_payout(5)
    assert (result.paid, result.unpaid, result.certain) == (2, 4, True)
    assert "absolute maximum current exceeded" in result.faults and "motor reversed to clear a jam" in result.faults
    assert ui.wait_event("hopper.fault").data["faults"]
    assert adapter.status().state == State.DEGRADED and not adapter.acceptance().can_give_change
    with pytest.raises(DeviceError) as refused:
        adapter.prepare_payout(1)
    assert refused.value.code == "cash.hopper_fault"
    assert bus.hopper_tally()["dispenses"] == 1 and bus.hopper_tally()["paid"] == 2
    bus.control(bus.hopper().clear_jam)  # a technician cleared it
    assert adapter.refresh().state == State.READY and adapter.hopper_test() == ()


def test_counters_that_stop_moving_are_stopped_by_the_adapter(opened):
    bus = bus_with(timeout_s=30)  # this hopper would wait 30 s before giving up by itself
    bus.hopper().jam_after = 1
    adapter = opened(bus, query="&hopper=3&payout_stall_ms=300")
    adapter.dispense(4)
    started = time.monotonic()
    result = adapter.wait_payout(10)
    assert time.monotonic() - started < 3
    assert (result.paid, result.unpaid, result.certain) == (1, 3, True)
    assert bus.hopper_tally()["paid"] == 1


@pytest.mark.parametrize(("nv", "expected"), [("1", (3, 7, True, "reset_counted")),
                                              ("0", (None, None, False, "reset_unknown"))])
def test_a_power_cut_mid_payout(opened, ui, nv, expected):
    bus = bus_with(off_s=0.4)
    bus.hopper().power_cut_after = 3
    adapter = opened(bus, ui, query=f"&hopper=3&hopper_nv_count={nv}")
    request = adapter.prepare_payout(10)
    adapter.dispense(10, expect_counter=request.event_counter)
    result = adapter.wait_payout(5)
    assert bus.hopper_tally()["cuts"] == 1 and bus.hopper_tally()["paid"] == 3
    assert (result.paid, result.unpaid, result.certain, result.reason) == expected
    assert result.event_counter == 0  # the hopper's counters restarted
    assert "power-down during payout" in result.faults and "power-up detected" in result.faults
    event = ui.wait_event("payout.completed").data
    assert event["certain"] is expected[2] and event["unpaid_cents"] == (None if expected[1] is None else 7000)
    again = adapter.prepare_payout(2)  # the hopper pays again after its power-up
    adapter.dispense(2, expect_counter=again.event_counter)
    assert adapter.wait_payout(5).paid == 2 and bus.hopper_tally()["paid"] == 5


def test_emergency_stop_returns_what_will_not_be_paid(opened):
    bus = bus_with(rate=10.0)
    adapter = opened(bus)
    adapter.dispense(30)
    assert wait_until(lambda: bus.hopper_tally()["paid"] >= 2, 3)
    unpaid = adapter.emergency_stop()
    paid = bus.hopper_tally()["paid"]
    assert unpaid == 30 - paid and 2 <= paid < 30
    result = adapter.wait_payout(3)
    assert (result.paid, result.unpaid, result.reason, result.certain) == (paid, unpaid, "short", True)
    time.sleep(0.3)
    assert bus.hopper_tally()["paid"] == paid  # stopped means stopped


def test_self_test_reads_the_hopper_flags_in_words(opened):
    bus = bus_with()
    adapter = opened(bus)
    report = adapter.self_test()
    hopper_check = next(check for check in report.checks if check.name == "hopper 3")
    assert report.ok and hopper_check.ok and "$10 coins" in hopper_check.detail
    bus.control(lambda: setattr(bus.hopper(), "flags", [0x21, 0x20, 0]))
    assert adapter.hopper_test() == ("absolute maximum current exceeded", "opto blocked permanently during payout",
                                     "inductive coil fault")
    report = adapter.self_test()
    assert not report.ok and "inductive coil fault" in next(c for c in report.checks if c.name == "hopper 3").detail


def test_a_dispense_is_refused_when_the_recorded_counter_has_moved(opened):
    bus = bus_with()
    adapter = opened(bus)
    request = adapter.prepare_payout(2)
    adapter.dispense(1)
    adapter.wait_payout(5)
    with pytest.raises(DeviceError) as moved:
        adapter.dispense(2, expect_counter=request.event_counter)
    assert moved.value.code == "cash.payout_counter_moved"
    assert bus.hopper_tally()["dispenses"] == 1
    for bad in (0, 256, -1):
        with pytest.raises(DeviceError) as invalid:
            adapter.dispense(bad)
        assert invalid.value.code == "cash.payout_invalid"


class LosesFirstDispense:
    """The wire drops the first dispense's answer (`where="answer"`) or the command itself."""

    def __init__(self, bus: CcTalkBus, where: str):
        self.bus, self.where, self.dropped = bus, where, False

    def feed(self, data: bytes) -> bytes:
        is_dispense = len(data) > 3 and data[3] == cc.H_DISPENSE_HOPPER_COINS
        if is_dispense and not self.dropped:
            self.dropped = True
            if self.where == "command":
                return b""
            self.bus.feed(data)
            return b""
        return self.bus.feed(data)


@pytest.mark.parametrize("where", ["answer", "command"])
def test_a_lost_dispense_message_never_pays_twice(opened, where):
    bus = bus_with()
    peer = LosesFirstDispense(bus, where)
    adapter = opened(bus, peer=peer)
    request = adapter.prepare_payout(4)
    adapter.dispense(4, expect_counter=request.event_counter)
    result = adapter.wait_payout(5)
    assert peer.dropped and result.paid == 4 and result.certain
    assert bus.hopper_tally()["dispenses"] == 1 and bus.hopper_tally()["paid"] == 4


class GoesQuietAfterDispense:
    """The hopper takes the dispense, then nothing answers for `quiet_s` (a loose cable)."""

    def __init__(self, bus: CcTalkBus, quiet_s: float):
        self.bus, self.quiet_s, self.quiet_until = bus, quiet_s, 0.0

    def feed(self, data: bytes) -> bytes:
        answer = self.bus.feed(data)
        if len(data) > 3 and data[3] == cc.H_DISPENSE_HOPPER_COINS and not self.quiet_until:
            self.quiet_until = time.monotonic() + self.quiet_s
        return b"" if time.monotonic() < self.quiet_until else answer


def test_a_dispense_whose_fate_is_unknown_is_concluded_from_the_counters_later(opened):
    bus = bus_with()
    adapter = opened(bus, peer=GoesQuietAfterDispense(bus, 1.0))
    with pytest.raises(DeviceError) as unknown:
        adapter.dispense(3)
    assert unknown.value.code == "cash.payout_unknown"
    with pytest.raises(DeviceError) as busy:  # nothing new until this one is concluded
        adapter.prepare_payout(1)
    assert busy.value.code == "cash.payout_busy"
    result = adapter.wait_payout(5)
    assert (result.paid, result.certain) == (3, True) and bus.hopper_tally()["dispenses"] == 1
    assert adapter.prepare_payout(1).coins == 1


def test_a_refused_dispense_paid_nothing_and_says_so(opened):
    bus = bus_with()
    adapter = opened(bus)
    bus.control(lambda: setattr(bus.hopper(), "serial", b"XYZ"))  # the hopper wants other security bytes
    with pytest.raises(DeviceError) as refused:
        adapter.dispense(2)
    assert refused.value.code == "cash.payout_refused"
    assert bus.hopper_tally()["dispenses"] == 0 and adapter.prepare_payout(2).coins == 2


def test_two_hoppers_with_their_own_coins(opened):
    bus = CcTalkBus(hoppers=[SimHopper(3, rate=FAST), SimHopper(4, coin_cents=500, inventory=4, rate=FAST)])
    adapter = opened(bus, query="&hopper=3,4&hopper_coin=10,5")
    assert [(h.address, h.coin_cents, h.coins_sure) for h in adapter.change_capacity()] == [(3, 1000, 100),
                                                                                           (4, 500, 4)]
    assert adapter.acceptance().change_cents == 100 * 1000 + 4 * 500
    assert adapter.plan_change(2500) == {3: 2, 4: 1} and adapter.plan_change(2550) is None
    adapter.dispense(1, hopper=4)
    assert adapter.wait_payout(5, hopper=4).paid_cents == 500
    assert bus.hopper_tally(4)["paid"] == 1 and bus.hopper_tally(3)["paid"] == 0


def test_a_hopper_without_its_own_count_vouches_only_for_what_is_configured(opened):
    bus = bus_with(counts=False)
    adapter = opened(bus, query="&hopper=3&hopper_low_coins=15")
    info = adapter.change_capacity()[0]
    assert info.coins_counted is None and info.coins_sure == 15 and info.level == Supply.FULL
    bus.control(lambda: setattr(bus.hopper(), "inventory", 5))  # below the low-level sensor
    adapter.refresh()
    assert adapter.change_capacity()[0].coins_sure == 0 and adapter.status().supply("hopper") == Supply.LOW


@pytest.mark.parametrize("url", ["sim://?hopper=3,x", "sim://?hopper=3,3", "sim://?hopper=3,4&hopper_coin=1,2,5",
                                 "sim://?hopper=1", "sim://?hopper=3&hopper_low_coins=-1"])
def test_bad_hopper_options_are_a_clear_configuration_error(url):
    with pytest.raises(DeviceError) as error:
        create_adapter("cash", "cctalk", url)
    assert error.value.code == "config.invalid" and "hopper" in error.value.detail


def test_no_hopper_means_no_payout():
    adapter = CashAdapter("cash", "cctalk", parse_device_url("sim://"))
    adapter.open()
    with pytest.raises(DeviceError) as error:
        adapter.prepare_payout(1)
    assert error.value.code == "cash.no_change" and not adapter.acceptance().escrow
    adapter.close()


# ---- a crash between the ledger and the hopper --------------------------------------------------

CHILD = """
import json, sys, time
from devices.cash import CashAdapter
from devices.urls import parse_device_url
adapter = CashAdapter("cash", "cctalk", parse_device_url(sys.argv[1]))
assert adapter.open().usable
request = adapter.prepare_payout(int(sys.argv[2]))
print(json.dumps(request.to_dict()), flush=True)  # the ledger's durable record
if sys.argv[3] == "dispense":
    adapter.dispense(request.coins, request.hopper, expect_counter=request.event_counter)
    print("SENT", flush=True)
time.sleep(30)
"""


def _line(process: subprocess.Popen, timeout: float = 15) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "the payout process said nothing"
    return process.stdout.readline().strip()


@pytest.mark.parametrize("step", ["dispense", "record_only"])
def test_sigkill_mid_payout_never_pays_twice_nor_forgets(pty_pair, step):
    bus = bus_with(rate=10.0)
    bus.hopper().event_counter = 5  # it has paid change before
    url = f"serial://{pty_pair.host}?baudrate=9600&timeout=0.6&payout_poll_ms=20&hopper=3&hopper_nv_count=1"
    with served(pty_pair, bus):
        process = subprocess.Popen(["timeout", "40", sys.executable, "-c", CHILD, url, "12", step],
                                   stdout=subprocess.PIPE, text=True, cwd=os.getcwd(), start_new_session=True)
        try:
            request = PayoutRequest.from_dict(json.loads(_line(process)))
            if step == "dispense":
                assert _line(process) == "SENT"
                assert wait_until(lambda: bus.hopper_tally()["paid"] >= 2, 5)
        finally:  # SIGKILL to the payout process (and the `timeout` that bounds it): no cleanup runs
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        adapter = adapter_on(pty_pair, query="&hopper=3&hopper_nv_count=1")  # the kiosk restarted
        # the killed process's port closes when the kernel reaps it: open as the supervisor would, again
        assert wait_until(lambda: adapter.open().usable, 5, 0.1), adapter.status().reason.code
        first = adapter.reconcile_payout(request)
        result = adapter.wait_payout(10, request=request)
        adapter.close()
    if step == "dispense":
        assert first.executed and (first.in_progress or first.reason == "paid")
        assert (result.paid, result.unpaid, result.certain) == (12, 0, True)
    else:
        assert (first.reason, first.paid, first.unpaid, first.certain) == ("not_executed", 0, 12, True)
        assert result == first
    assert bus.hopper_tally()["dispenses"] == (1 if step == "dispense" else 0)
    assert bus.hopper_tally()["paid"] == result.paid


# ---- escrow --------------------------------------------------------------------------------------

def test_escrow_stacks_what_the_policy_accepts_and_returns_the_rest(opened, ui):
    bus = bus_with()
    adapter = opened(bus, ui)
    assert adapter.acceptance().escrow and bus.bills.mode == cc.BILL_MODE_STACKER | cc.BILL_MODE_ESCROW
    asked: list[int] = []
    adapter.set_escrow_policy(lambda cents: asked.append(cents) or cents <= 10000)  # change for at most $100
    adapter.enable()
    bus.insert_bill(4)  # $200: would need too much change
    returned = ui.wait_event("cash.returned")
    assert returned.data == {"kind": "bill", "cents": 20000, "why": "policy"}
    bus.insert_bill(3)  # $100
    assert ui.wait_event("credit.accepted").data["cents"] == 10000
    adapter.disable()
    assert asked == [20000, 10000]
    assert bus.bills.accepted == [3] and bus.bills.returned == [4] and bus.accepted_cents() == 10000
    assert [e.data["cents"] for e in ui.kinds("credit.accepted")] == [10000] and adapter.total_cents == 10000


def test_without_a_policy_escrowed_bills_are_stacked_and_a_failing_policy_returns_them(opened, ui):
    bus = bus_with()
    adapter = opened(bus, ui)
    adapter.enable()
    bus.insert_bill(1)
    assert ui.wait_event("credit.accepted").data["cents"] == 2000

    def broken(cents: int) -> bool:  # a bug in the session's policy
        raise KeyError(cents)

    adapter.set_escrow_policy(broken)
    bus.insert_bill(2)
    assert ui.wait_event("cash.returned").data["cents"] == 5000
    adapter.disable()
    assert bus.bills.accepted == [1] and bus.bills.returned == [2]


def test_a_bill_held_when_the_acceptor_is_disabled_is_decided_before_disable_returns(opened, ui):
    bus = bus_with()
    adapter = opened(bus, ui, query="&hopper=3&poll_ms=5000")  # the poll thread will not get there first
    adapter.set_escrow_policy(lambda cents: True)
    adapter.enable()
    bus.insert_bill(2)
    adapter.disable()
    ui.pump()
    assert [e.data["cents"] for e in ui.kinds("credit.accepted")] == [5000] and bus.bills.accepted == [2]


def test_escrow_can_be_turned_off():
    adapter = CashAdapter("cash", "cctalk", parse_device_url("sim://?hopper=3&escrow=0"))
    adapter.open()
    assert not adapter.acceptance().escrow and adapter.simulator.bills.mode == cc.BILL_MODE_STACKER
    adapter.close()


# ---- what the counters prove, and parsers that fail only in DeviceError --------------------------

REQUEST = PayoutRequest(3, 1000, 10, 7, 500)


@pytest.mark.parametrize(("status", "count", "nv", "expected"), [
    (HopperStatus(8, 0, 10, 0), 510, False, ("paid", True, 10, 0, True)),
    (HopperStatus(8, 0, 6, 4), 506, False, ("short", True, 6, 4, True)),
    (HopperStatus(8, 3, 7, 0), None, False, ("in_progress", True, 7, None, False)),
    (HopperStatus(7, 0, 2, 0), 500, False, ("not_executed", False, 0, 10, True)),
    (HopperStatus(0, 0, 0, 0), 504, True, ("reset_counted", True, 4, 6, True)),
    (HopperStatus(0, 0, 0, 0), 504, False, ("reset_unknown", None, None, None, False)),
    (HopperStatus(9, 0, 3, 0), 513, True, ("overtaken", True, None, None, False)),
    (HopperStatus(8, 0, 10, 0), 509, True, ("inconsistent", True, 10, 0, False)),
    (HopperStatus(7, 0, 0, 0), 501, True, ("inconsistent", False, None, None, False)),
])
def test_what_the_counters_prove(status, count, nv, expected):
    result = conclude(REQUEST, status, count, nv)
    assert (result.reason, result.executed, result.paid, result.unpaid, result.certain) == expected


def test_the_event_counter_wraps_to_one_never_to_zero():
    assert [next_counter(c) for c in (0, 1, 254, 255)] == [1, 2, 255, 1]
    assert conclude(PayoutRequest(3, 1000, 2, 255, None), HopperStatus(1, 0, 2, 0), None, False).reason == "paid"


@pytest.mark.fuzz
@fuzz_settings()
@given(data=st.binary(max_size=12))
def test_hopper_answers_parse_or_fail_only_in_device_error(data: bytes) -> None:
    count_example("hopper status / test / level parsers over arbitrary bytes")
    for parse in (parse_hopper_status, parse_test_flags, parse_level):
        try:
            parsed = parse(data)
        except DeviceError as error:
            assert error.code == "transport.garbled"
            continue
        if parse is parse_hopper_status:
            assert len(data) == 4 and (parsed.event_counter, parsed.remaining) == (data[0], data[1])
        if parse is parse_test_flags:
            assert len(parsed) == sum(bin(byte).count("1") for byte in data)


@pytest.mark.fuzz
@fuzz_settings()
@given(before=st.integers(0, 255), coins=st.integers(1, 255), counter=st.integers(0, 255),
       remaining=st.integers(0, 255), paid=st.integers(0, 255), unpaid=st.integers(0, 255),
       count_before=st.none() | st.integers(0, (1 << 24) - 1), moved=st.integers(0, 600), nv=st.booleans())
def test_a_conclusion_never_claims_more_than_the_counters_prove(before, coins, counter, remaining, paid, unpaid,
                                                                 count_before, moved, nv) -> None:
    count_example("payout conclusions over any counters")
    request = PayoutRequest(3, 1000, coins, before, count_before)
    count_now = None if count_before is None else (count_before + moved) % (1 << 24)
    result = conclude(request, HopperStatus(counter, remaining, paid, unpaid), count_now, nv)
    if result.certain:
        assert result.paid is not None and result.unpaid is not None
        assert 0 <= result.paid <= coins and result.paid + result.unpaid == coins
        assert not result.in_progress
    if counter == 0 and not (nv and count_before is not None):
        assert not result.certain  # after a reset, only a count that survives it can tell
    if counter not in (before, next_counter(before), 0):
        assert not result.certain


@pytest.mark.fuzz
@fuzz_settings()
@given(record=st.dictionaries(st.sampled_from(["hopper", "coin_cents", "coins", "event_counter", "dispense_count",
                                               "x"]), st.none() | st.integers() | st.text(max_size=3)
                              | st.floats() | st.booleans(), max_size=6) | st.integers() | st.text(max_size=5))
def test_a_damaged_ledger_record_is_refused_never_half_trusted(record) -> None:
    count_example("payout request records from a ledger")
    try:
        request = PayoutRequest.from_dict(record)
    except ValueError:
        return
    assert PayoutRequest.from_dict(request.to_dict()) == request and 0 < request.coins < 256


@pytest.mark.fuzz
@fuzz_settings()
@given(cents=st.integers(0, 30000), counts=st.lists(st.integers(0, 12), min_size=3, max_size=3))
def test_a_change_plan_is_exact_and_within_what_each_hopper_holds(cents: int, counts: list[int]) -> None:
    count_example("change plans")
    hoppers = [HopperInfo(3 + i, value, True, Supply.FULL, n, n) for i, (value, n) in
               enumerate(zip((2000, 1000, 500), counts, strict=True))]
    plan = plan_change(cents, hoppers)
    by_address = {h.address: h for h in hoppers}
    if plan is not None:
        assert sum(by_address[a].coin_cents * n for a, n in plan.items()) == cents
        assert all(0 < n <= by_address[a].coins_sure for a, n in plan.items())
    else:  # brute force agrees that it cannot be made
        assert all(a * 2000 + b * 1000 + c * 500 != cents for a in range(counts[0] + 1)
                   for b in range(counts[1] + 1) for c in range(counts[2] + 1))


def test_blocking_flags_are_named_in_the_flag_table():
    from devices.hopper import FLAG_WORDS

    named = {word for register in FLAG_WORDS for word in register}
    assert not BLOCKING_FLAGS - named and "payout timeout" not in BLOCKING_FLAGS
