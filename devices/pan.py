"""Card numbers (PANs) are never stored, sent or printed: find them in any text and mask them.

A card number is 13 to 19 digits that pass the Luhn check, written as one number or in groups
with a single space or dash between them ("4111 1111 1111 1111", "4111-1111-1111-1111"). Digits
joined that way form a run; when any stretch of whole groups in a run is a card number (a
terminal may put it next to another number), every digit of the run but the last four becomes
"*". Separators and all other text stay as they are, so text without a card number is unchanged.
"""

from __future__ import annotations

import re

MIN_DIGITS, MAX_DIGITS = 13, 19
KEEP = 4
_RUN = re.compile(r"[0-9]+(?:[ -][0-9]+)*")
_SEPARATOR = re.compile(r"[ -]")


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a string of ASCII digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def holds_card_number(run: str) -> bool:
    """True when some stretch of whole groups of `run` (ASCII digit groups joined by single
    spaces or dashes) has 13-19 digits that pass Luhn."""
    groups = _SEPARATOR.split(run)
    for start in range(len(groups)):
        digits = ""
        for index in range(start, len(groups)):
            digits += groups[index]
            if len(digits) > MAX_DIGITS:
                break
            if len(digits) >= MIN_DIGITS and luhn_valid(digits):
                return True
    return False


def _mask_run(match: re.Match[str]) -> str:
    run = match.group()
    if not holds_card_number(run):
        return run
    to_mask = sum(char.isdigit() for char in run) - KEEP
    out = []
    for char in run:
        if char.isdigit() and to_mask > 0:
            out.append("*")
            to_mask -= 1
        else:
            out.append(char)
    return "".join(out)


def mask_card_numbers(text: str) -> str:
    """`text` with every card-number-like run masked but for its last four digits."""
    return _RUN.sub(_mask_run, text)


def contains_card_number(text: str) -> bool:
    return any(holds_card_number(run) for run in _RUN.findall(text))
