"""What the citizen's forms accept, and in words why not when they do not (no Kivy here).

- A full name is at least two words with letters: a given name and a surname. Nothing more is
  asked of it, because real names can be very short ("ANA LI", "BO LI", "JOSÉ OÑA"); the person
  is checked against their ID when the document is handed over, not by the kiosk.
- The CURP is optional; when given it must have its 18 characters in the shape RENAPO issues.
- An account number is accepted with or without separators and put in the form on the bill
  before it is looked up: "001 002 003 0001", "0010020030001" and "001-002-003-1" are all
  "001-002-003-0001"; "agu 100234" is "AGU-100234".

Refusals are gettext message ids (N_): the screen translates them when it shows them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kiosk.core.i18n import N_

CURP_LENGTH = 18
_CURP_START = re.compile(r"[A-Z]{4}[0-9]{6}")  # initials, then the date of birth (YYMMDD)
_CURP = re.compile(
    r"[A-Z][AEIOUX][A-Z]{2}[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[HMX][A-Z]{2}"
    r"[B-DF-HJ-NP-TV-Z]{3}[A-Z0-9][0-9]")
# Clave catastral: zone, block and lot groups of three digits, then the property's four digits.
CADASTRAL_GROUPS = (3, 3, 3, 4)
_SEPARATORS = re.compile(r"[\s\-./_]+")


@dataclass(frozen=True)
class Refusal:
    """Why a form cannot go on yet: a gettext message id and the values it names."""

    message: str
    values: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def text(self, gettext: Callable[[str], str]) -> str:
        return gettext(self.message).format(**self.values)


def clean_name(name: str) -> str:
    """The name as it will be recorded: capitals, single spaces, no spaces at the ends."""
    return " ".join(name.upper().split())


def name_refusal(name: str) -> Refusal | None:
    words = [word for word in name.split() if any(char.isalpha() for char in word)]
    if not words:
        return Refusal(N_("Escriba su nombre completo (nombre y apellido)."))
    if len(words) < 2:
        return Refusal(N_("Escriba también su apellido, después de un espacio."))
    return None


def curp_refusal(curp: str) -> Refusal | None:
    """None for an empty CURP (it is optional) or one shaped as RENAPO issues them."""
    curp = curp.strip().upper()
    if not curp:
        return None
    if len(curp) != CURP_LENGTH:
        return Refusal(N_("La CURP tiene 18 caracteres y lleva {count}."), MappingProxyType({"count": len(curp)}))
    if not _CURP_START.fullmatch(curp[:10]):
        return Refusal(N_("Revise la CURP: empieza con 4 letras y sigue con los 6 números de su fecha de "
                          "nacimiento."))
    if not _CURP.fullmatch(curp):
        return Refusal(N_("Revise la CURP: algún carácter no corresponde. Cópiela de su credencial o acta."))
    return None


def identity_refusal(name: str, curp: str) -> Refusal | None:
    """The first thing that keeps "Continuar" disabled on the identify form, if any."""
    return name_refusal(name) or curp_refusal(curp)


def normalise_account(kind: str, typed: str) -> str:
    """The account number as the bill prints it, from however the citizen typed it. What does
    not fit a known shape is returned in capitals without spaces, for the API to judge."""
    text = typed.strip().upper()
    groups = [group for group in _SEPARATORS.split(text) if group]
    if kind == "clave_catastral":
        return _cadastral(groups) or "".join(groups)
    if kind == "numero_contrato_agua":
        return _prefixed(groups) or "".join(groups)
    return "-".join(groups)


def _cadastral(groups: list[str]) -> str | None:
    digits = "".join(groups)
    if not digits.isdigit():
        return None
    if len(groups) == len(CADASTRAL_GROUPS):
        # Each group is a number: leading zeros may be left out ("1-2-3-1").
        if all(len(group) <= width for group, width in zip(groups, CADASTRAL_GROUPS, strict=True)):
            return "-".join(group.zfill(width) for group, width in zip(groups, CADASTRAL_GROUPS, strict=True))
        return None
    fixed = sum(CADASTRAL_GROUPS[:-1])
    if fixed < len(digits) <= sum(CADASTRAL_GROUPS):
        # One run of digits: the first three groups are read in full, the rest is the property
        # number, whose leading zeros people often leave out ("001002003001").
        parts, start = [], 0
        for width in CADASTRAL_GROUPS[:-1]:
            parts.append(digits[start:start + width])
            start += width
        return "-".join([*parts, digits[start:].zfill(CADASTRAL_GROUPS[-1])])
    return None


def _prefixed(groups: list[str]) -> str | None:
    """Letters, then digits ("AGU100234", "AGU 100234"), written with one dash between."""
    match = re.fullmatch(r"([A-Z]+)([0-9]+)", "".join(groups))
    return f"{match.group(1)}-{match.group(2)}" if match else None
