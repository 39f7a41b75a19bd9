"""Card numbers are masked wherever they appear; everything else is left alone."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from devices.pan import contains_card_number, luhn_valid, mask_card_numbers
from tests.conftest import count_example, fuzz_settings

VISA = "4111111111111111"
TEST_PANS = [VISA, "5500005555555559", "378282246310005", "6011111111111117", "4222222222222",
             "6759649826438453", "6304000000000000000"]  # 16, 16, 15 (Amex), 16, 13, 16, 19 digits


def reference_luhn(digits: str) -> bool:
    """The textbook algorithm, written independently of devices.pan."""
    doubled = [int(d) * (2 if i % 2 else 1) for i, d in enumerate(reversed(digits))]
    return sum(v // 10 + v % 10 for v in doubled) % 10 == 0


def card_number_runs(text: str) -> list[str]:
    """Every card number: 13-19 Luhn-valid digits made of whole groups of a run of digit groups
    joined by single spaces or dashes (the definition in devices/pan.py, written independently)."""
    found = []
    for run in re.findall(r"\d+(?:[ -]\d+)*", text, flags=re.ASCII):
        groups = re.split(r"[ -]", run)
        for start in range(len(groups)):
            for end in range(start + 1, len(groups) + 1):
                digits = "".join(groups[start:end])
                if 13 <= len(digits) <= 19 and reference_luhn(digits):
                    found.append(digits)
    return found


@pytest.mark.parametrize("pan", TEST_PANS)
def test_test_card_numbers_pass_luhn_and_are_masked_but_for_the_last_four(pan):
    assert luhn_valid(pan) and reference_luhn(pan)
    masked = mask_card_numbers(f"Autorizacion {pan} ok")
    assert masked == f"Autorizacion {'*' * (len(pan) - 4)}{pan[-4:]} ok"


@pytest.mark.parametrize(("text", "expected"), [
    ("4111 1111 1111 1111", "**** **** **** 1111"),
    ("4111-1111-1111-1111", "****-****-****-1111"),
    ("op 12 4111111111111111", "op 12 4111111111111111".replace("12 411111111111", "** ************")),
    ("ticket4111111111111111X", "ticket************1111X"),
    ("4111111111111111 5500005555555559", "**************** ************5559"),
])
def test_grouped_and_embedded_card_numbers_are_masked(text, expected):
    assert mask_card_numbers(text) == expected
    assert not card_number_runs(mask_card_numbers(text))


@pytest.mark.parametrize("text", [
    "4111111111111112",  # fails Luhn
    "597012345678",  # a 12-digit commerce code
    "F-2026-000123", "21/11/2026 10:30:00", "VISA **** 4242", "A1B2C3", "", "á é í ó ú ñ ü ¿ ¡",
    "4111 1111  1111 1111",  # two spaces: not one run, each part is too short
])
def test_text_without_a_card_number_is_unchanged(text):
    assert mask_card_numbers(text) == text
    assert not contains_card_number(text)


SEPARATORS = ("", "", " ", "-")
digit_groups = st.binary(min_size=19, max_size=19).map(lambda raw: [SEPARATORS[byte % 4] for byte in raw])  # one draw
ascii_text = st.text(st.characters(codec="ascii"), max_size=40)
any_text = st.text(max_size=60)


@st.composite
def text_with_a_card_number(draw) -> tuple[str, str]:
    body = draw(st.text("0123456789", min_size=12, max_size=18))
    check = next(d for d in "0123456789" if luhn_valid(body + d))  # exactly one digit completes Luhn
    pan = body + check
    separators = draw(digit_groups)
    written = "".join(digit + separators[i] for i, digit in enumerate(pan[:-1])) + pan[-1]
    # Anything but a digit right next to it: glued to other digits it would be another number.
    return draw(ascii_text) + draw(st.sampled_from(" -x|")) + written + " " + draw(ascii_text), pan


@pytest.mark.fuzz
@given(text_with_a_card_number())
@fuzz_settings(short=300)
def test_no_card_number_survives_masking(case):
    count_example("pan: planted card number is masked")
    text, pan = case
    masked = mask_card_numbers(text)
    assert pan not in re.sub(r"[ -]", "", masked)
    assert not card_number_runs(masked)
    assert contains_card_number(text) and not contains_card_number(masked)


@pytest.mark.fuzz
@given(st.one_of(any_text, st.text("0123456789 -x", max_size=60)))
@fuzz_settings(short=300)
def test_masking_changes_only_card_numbers(text):
    count_example("pan: arbitrary text")
    masked = mask_card_numbers(text)
    assert not card_number_runs(masked)
    assert len(masked) == len(text)
    changed = [(a, b) for a, b in zip(text, masked, strict=True) if a != b]
    assert all(b == "*" and a.isdigit() for a, b in changed)
    if not card_number_runs(text):
        assert masked == text


@pytest.mark.fuzz
@given(st.text("0123456789", min_size=13, max_size=19))
@fuzz_settings(short=300)
def test_luhn_agrees_with_the_textbook_algorithm(digits):
    count_example("pan: luhn")
    assume(digits)
    assert luhn_valid(digits) == reference_luhn(digits)
