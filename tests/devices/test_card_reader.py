"""ID-card reader through pcscd + vsmartcard vpcd with a virtual card the tests control."""

from __future__ import annotations

import logging
import time

import pytest

from devices.card_reader import MAX_RESPONSE_ROUNDS, CardReaderAdapter, identity_from_certificate
from devices.contract import Action, DeviceError, State
from devices.sim.card import ESTEID_ATR, CardHolder, VirtualIdCard, VpcdCardClient, auth_certificate
from devices.supervisor import Supervisor
from devices.urls import parse_device_url

READER = "pcsc://Virtual PCD 00 00"
HOLDER = CardHolder()


def wait_reader_empty(timeout: float = 3.0) -> None:
    """pcscd notices a removal a few hundred ms later; the next test must not see the old card."""
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hresult, states = scard.SCardGetStatusChange(context, 0, [("Virtual PCD 00 00", 0)])
            if hresult == scard.SCARD_S_SUCCESS and states[0][1] & scard.SCARD_STATE_EMPTY:
                return
            time.sleep(0.02)
    finally:
        scard.SCardReleaseContext(context)


@pytest.fixture
def empty_reader(pcscd):
    wait_reader_empty()  # the previous test's card must be gone before a new adapter looks


@pytest.fixture
def reader(empty_reader, ui):
    adapter = CardReaderAdapter("card_reader", "pcsc", parse_device_url(f"{READER}?profile=esteid&timeout=1"),
                                ui.call_soon)
    adapter.subscribe(ui.record)
    yield adapter
    adapter.close()


def insert(behaviour: str = "normal") -> VpcdCardClient:
    wait_reader_empty()
    client = VpcdCardClient(VirtualIdCard(behaviour), lifetime_s=30)
    client.insert()
    return client


def test_insert_and_remove_events_reach_the_ui_thread_with_the_atr(reader, ui):
    assert reader.open().state == State.READY
    card = insert()
    try:
        inserted = ui.wait_event("card.inserted", timeout=5)
        assert inserted.data["atr"] == ESTEID_ATR.hex(" ").upper()
        assert reader.atr == ESTEID_ATR
    finally:
        card.remove()
    ui.wait_event("card.removed", timeout=5)
    assert ui.threads_seen == {ui.thread.name}  # callbacks ran on the "UI" thread, not a worker


def test_esteid_profile_reads_name_and_id_number(reader, ui):
    reader.open()
    card = insert()
    try:
        ui.wait_event("card.inserted")
        identity = reader.read_identity()
    finally:
        card.remove()
    assert identity.surname == HOLDER.surname and identity.given_names == HOLDER.given_names
    assert identity.id_number == HOLDER.personal_code
    assert identity.document_number == HOLDER.document_number
    assert HOLDER.personal_code not in repr(identity) and HOLDER.surname not in str(identity)


def test_auth_certificate_profile_parses_name_and_serial_number(empty_reader, ui):
    adapter = CardReaderAdapter("card_reader", "pcsc", parse_device_url(f"{READER}?profile=auth_cert&timeout=2"),
                                ui.call_soon)
    adapter.subscribe(ui.record)
    adapter.open()
    card = insert()
    try:
        ui.wait_event("card.inserted")
        identity = adapter.read_identity()
    finally:
        card.remove()
        adapter.close()
    assert identity.profile == "auth_cert"
    assert identity.full_name == f"{HOLDER.given_names} {HOLDER.surname}"
    assert identity.id_number == HOLDER.personal_code  # "PNOEE-" semantics prefix removed


def test_identity_never_reaches_the_logs(reader, ui, caplog):
    caplog.set_level(logging.DEBUG)
    reader.open()
    card = insert()
    try:
        ui.wait_event("card.inserted")
        reader.read_identity()
    finally:
        card.remove()
    logged = caplog.text + " ".join(str(getattr(r, "fields", "")) for r in caplog.records)
    assert "card.read" in logged
    assert HOLDER.personal_code not in logged and "MUÑOZ" not in logged


def failed_read(reader, ui, kind: str) -> DeviceError:
    """Insert a card of this kind, read it, take it out: the error the read ended with."""
    card = insert(kind)
    try:
        ui.wait_event("card.inserted")
        with pytest.raises(DeviceError) as caught:
            reader.read_identity()
    finally:
        card.remove()
    return caught.value


def test_foreign_card_is_told_apart(reader, ui):
    reader.open()
    error = failed_read(reader, ui, "foreign")
    assert error.code == "card.foreign"
    assert error.reason.action == Action.CITIZEN
    assert reader.status().state == State.READY  # the reader itself is fine


def test_mute_card_fails_within_the_deadline(reader, ui):
    reader.open()
    card = insert("mute")
    try:
        ui.wait_event("card.inserted")
        started = time.monotonic()
        with pytest.raises(DeviceError) as caught:
            reader.read_identity()
        assert time.monotonic() - started < 2.5
    finally:
        card.remove()
    assert caught.value.code == "card.mute"
    ui.wait_event("card.removed")
    card = insert()  # the reader still works after the mute card
    try:
        ui.wait_event("card.inserted", count=2)
        assert reader.read_identity().id_number == HOLDER.personal_code
    finally:
        card.remove()


def test_card_removed_mid_read(reader, ui):
    reader.open()
    assert failed_read(reader, ui, "remove_mid_read").code == "card.removed"
    ui.wait_event("card.removed")


def test_self_test_reports_atr_and_profile_read(reader, ui):
    reader.open()
    card = insert()
    try:
        ui.wait_event("card.inserted")
        report = reader.self_test()
    finally:
        card.remove()
    assert report.ok, report
    names = [check.name for check in report.checks]
    assert "ATR" in names and "profile esteid" in names
    assert any(ESTEID_ATR.hex(" ").upper() in check.detail for check in report.checks)


def test_pcscd_restart_does_not_silence_the_reader(pcscd, reader, ui):
    if not pcscd.started_by_us:
        pytest.skip("pcscd was already running before the tests; it is not ours to restart")
    supervisor = Supervisor({"card_reader": reader}, interval_s=0.1)
    reader.open()
    pcscd.stop()
    ui.wait_event("device.lost", timeout=5)
    assert reader.status().reason.code == "card.service_unavailable"
    pcscd.start()
    assert ui.pump_until(lambda: (supervisor.check_once() or True) and reader.status().usable, 8)
    ui.wait_event("device.found")
    assert reader.status().counters.reconnects >= 1
    card = insert()
    try:
        ui.wait_event("card.inserted", timeout=5)  # events flow again after the restart
        assert reader.read_identity().id_number == HOLDER.personal_code
    finally:
        card.remove()


def test_certificate_parsing_needs_a_serial_number():
    identity = identity_from_certificate(auth_certificate(HOLDER) + b"\xff" * 40)  # padded like a card file
    assert identity.id_number == HOLDER.personal_code
    with pytest.raises(DeviceError):
        identity_from_certificate(b"\x30\x03\x02\x01\x00")


def test_simulated_twin_supports_the_same_faults(ui):
    adapter = CardReaderAdapter("card_reader", "pcsc", parse_device_url("sim://?card=absent&timeout=0.5"),
                                ui.call_soon)
    adapter.subscribe(ui.record)
    adapter.open()
    sim = adapter.simulator
    sim.insert("normal")
    ui.wait_event("card.inserted")
    assert adapter.read_identity().id_number == HOLDER.personal_code
    for behaviour, code in (("foreign", "card.foreign"), ("remove_mid_read", "card.removed")):
        sim.insert(behaviour)
        with pytest.raises(DeviceError) as caught:
            adapter.read_identity()
        assert caught.value.code == code
    sim.insert("mute")
    with pytest.raises(DeviceError) as caught:
        adapter.read_identity()
    assert caught.value.code == "card.mute"
    sim.remove()
    ui.wait_event("card.removed")
    adapter.close()


def test_unknown_profile_is_a_configuration_error():
    with pytest.raises(DeviceError) as caught:
        CardReaderAdapter("card_reader", "pcsc", parse_device_url("pcsc://x?profile=passport"))
    assert caught.value.code == "config.invalid"


@pytest.mark.parametrize("profile", ["esteid", "auth_cert"])
def test_t0_conventions_get_response_and_wrong_le_are_handled(profile):
    adapter = CardReaderAdapter("card_reader", "pcsc", parse_device_url(f"sim://?card=t0&profile={profile}"))
    adapter.open()
    card = adapter.simulator.card
    identity = adapter.read_identity()
    adapter.close()
    assert identity.id_number == HOLDER.personal_code and identity.surname == HOLDER.surname
    assert card.apdus > 0


def test_reader_opened_while_pcscd_is_down_comes_up_when_it_starts(pcscd, empty_reader, ui):
    if not pcscd.started_by_us:
        pytest.skip("pcscd was already running before the tests; it is not ours to stop")
    pcscd.stop()
    adapter = CardReaderAdapter("card_reader", "pcsc", parse_device_url(f"{READER}?timeout=1"), ui.call_soon)
    adapter.subscribe(ui.record)
    try:
        status = adapter.open()
        assert status.state == State.OFFLINE and status.reason.code == "card.service_unavailable"
        assert status.reason.action == Action.TECHNICIAN
    finally:
        pcscd.start()
    try:
        ui.wait_event("device.found", timeout=8)
        assert adapter.status().usable and adapter.status().counters.reconnects == 1
    finally:
        adapter.close()


def test_a_card_answering_61xx_forever_is_unreadable_after_a_few_rounds(ui):
    """GET RESPONSE answered by yet another 61xx, forever: the read ends, the worker is free."""
    adapter = CardReaderAdapter("card_reader", "pcsc", parse_device_url("sim://?card=endless&timeout=2"),
                                ui.call_soon)
    adapter.open()
    card = adapter.simulator.card
    try:
        with pytest.raises(DeviceError) as caught:
            adapter.read_identity()
        assert caught.value.code == "card.unreadable"
        assert card.apdus <= 2 * MAX_RESPONSE_ROUNDS  # bounded, and the worker is not spinning
        adapter.simulator.insert("normal")
        assert adapter.read_identity().id_number == HOLDER.personal_code  # the next card reads fine
    finally:
        adapter.close()


def test_a_card_answering_61xx_forever_through_pcscd(reader, ui):
    reader.open()
    error = failed_read(reader, ui, "endless")
    assert error.code == "card.unreadable"
    assert reader.status().usable
