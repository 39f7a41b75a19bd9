"""PIN hashes: argon2id at OWASP's parameters over a peppered PIN; the rules for a new PIN."""

from __future__ import annotations

import time

import pytest
from argon2 import extract_parameters
from argon2.low_level import Type

from kiosk.staff import pins
from kiosk.staff.model import WeakPin
from tests.staff.conftest import PIN

PEPPER_A = b"a" * 32
PEPPER_B = b"b" * 32


def test_hash_is_argon2id_at_owasp_parameters() -> None:
    stored = pins.hash_pin(PIN, PEPPER_A)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    parameters = extract_parameters(stored)
    assert (parameters.type, parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (
        Type.ID, 19 * 1024, 2, 1)
    assert PIN not in stored


def test_verification_needs_the_same_pepper() -> None:
    stored = pins.hash_pin(PIN, PEPPER_A)
    assert pins.verify_pin(stored, PIN, PEPPER_A)
    assert not pins.verify_pin(stored, PIN, PEPPER_B)
    assert not pins.verify_pin(stored, "739185", PEPPER_A)


def test_the_hash_is_of_the_peppered_pin_not_the_pin() -> None:
    from argon2 import PasswordHasher

    stored = pins.hash_pin(PIN, PEPPER_A)
    with pytest.raises(Exception):  # noqa: B017 - any argon2 mismatch error will do
        PasswordHasher().verify(stored, PIN)


def test_same_pin_twice_gives_different_hashes() -> None:
    assert pins.hash_pin(PIN, PEPPER_A) != pins.hash_pin(PIN, PEPPER_A)


def test_a_damaged_hash_is_a_mismatch_not_an_error() -> None:
    assert not pins.verify_pin("$argon2id$v=19$m=19456,t=2,p=1$garbage", PIN, PEPPER_A)
    assert not pins.verify_pin("", PIN, PEPPER_A)
    assert pins.needs_rehash("not a hash")


def test_dummy_hash_costs_what_a_real_one_costs() -> None:
    real = extract_parameters(pins.hash_pin(PIN, PEPPER_A))
    dummy = extract_parameters(pins.DUMMY_HASH)
    assert (dummy.type, dummy.memory_cost, dummy.time_cost, dummy.parallelism, dummy.hash_len) == (
        real.type, real.memory_cost, real.time_cost, real.parallelism, real.hash_len)
    assert not pins.needs_rehash(pins.DUMMY_HASH)


def test_verification_takes_real_work() -> None:
    stored = pins.hash_pin(PIN, PEPPER_A)
    started = time.perf_counter()
    pins.verify_pin(stored, "000000", PEPPER_A)
    assert time.perf_counter() - started > 0.005  # argon2 with 19 MiB, not a plain hash


@pytest.mark.parametrize(("pin", "words"), [
    ("73918a", "digits only"),
    ("７３９１８４", "digits only"),  # full-width digits are digits to Python, not to a PIN pad
    ("73918", "at least 6 digits"),
    ("12345678901234567", "at most 16"),
    ("000000", "all its digits are the same"),
    ("123456", "run in order"),
    ("987654", "run in order"),
    ("890123", "run in order"),
    ("121212", "repeats a short group"),
    ("123123", "repeats a short group"),
    ("112233", "most common"),
])
def test_weak_pins_are_refused_with_a_reason(pin: str, words: str) -> None:
    with pytest.raises(WeakPin, match=words):
        pins.check_pin(pin, 6)


def test_pin_equal_to_the_staff_id_is_refused() -> None:
    with pytest.raises(WeakPin, match="staff id"):
        pins.check_pin("40719283", 6, staff_id="40719283")


@pytest.mark.parametrize("pin", [PIN, "5550193", "20481397", "1357924680"])
def test_ordinary_pins_are_accepted(pin: str) -> None:
    pins.check_pin(pin, 6)


def test_minimum_length_comes_from_the_caller() -> None:
    pins.check_pin("7391", 4)
    with pytest.raises(WeakPin, match="at least 8"):
        pins.check_pin(PIN, 8)
