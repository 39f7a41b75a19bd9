"""deploy/udev/99-kiosk.rules: well-formed udev syntax (this machine has no udevd to load it) and
the rules the kiosk's devices need."""

from __future__ import annotations

import re

from tests.deploy.conftest import REPO

RULES = REPO / "deploy" / "udev" / "99-kiosk.rules"

MATCH_KEYS = {"ACTION", "KERNEL", "KERNELS", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER", "DRIVERS", "ATTR", "ATTRS",
              "ENV", "TAG", "TAGS", "DEVPATH", "PROGRAM", "RESULT", "TEST", "SYMLINK", "NAME"}
ASSIGN_KEYS = {"GROUP", "OWNER", "MODE", "SYMLINK", "ENV", "TAG", "ATTR", "RUN", "IMPORT", "OPTIONS", "LABEL",
               "GOTO", "NAME", "SECLABEL", "SYSCTL"}
TOKEN = re.compile(r'\s*([A-Z_]+)(\{[^}]*\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)')


def rules(text: str) -> list[list[tuple[str, str, str, str]]]:
    """Each active rule as (key, {attr}, operator, value) tokens; raises on anything malformed."""
    parsed = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        tokens, position = [], 0
        while position < len(line):
            match = TOKEN.match(line, position)
            assert match, f"99-kiosk.rules:{number}: cannot parse from column {position + 1}: {line[position:]!r}"
            key, attr, op, value, _ = match.groups()
            allowed = MATCH_KEYS if op in ("==", "!=") else ASSIGN_KEYS
            assert key in allowed, f"99-kiosk.rules:{number}: {key} cannot be used with {op}"
            if key in ("ATTR", "ATTRS", "ENV"):
                assert attr, f"99-kiosk.rules:{number}: {key} needs {{name}}"
            tokens.append((key, attr or "", op, value))
            position = match.end()
        assert any(op in ("==", "!=") for _, _, op, _ in tokens), f"99-kiosk.rules:{number}: matches nothing"
        parsed.append(tokens)
    return parsed


def test_the_rules_parse() -> None:
    assert len(rules(RULES.read_text())) >= 8


def test_the_parser_rejects_malformed_rules() -> None:
    for bad in ('SUBSYSTEM=="tty", GROUP="dialout', 'SUBSYSTEM=="tty" GROUP="dialout"', 'GROUP="lp"',
                'SUBSYSTM=="tty", GROUP="lp"', 'ENV=="1", GROUP="lp"'):
        try:
            rules(bad)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {bad!r}")


def assignments(parsed, key: str, attr: str = "") -> list[tuple[list, str]]:
    return [(rule, value) for rule in parsed for k, a, op, value in rule
            if k == key and a == attr and op in ("=", "+=", ":=")]


def test_devices_reach_the_kiosk_groups_and_modemmanager_stays_away() -> None:
    parsed = rules(RULES.read_text())
    groups = {value for _, value in assignments(parsed, "GROUP")}
    assert {"lp", "dialout"} <= groups
    ignored = assignments(parsed, "ENV", "{ID_MM_DEVICE_IGNORE}")
    assert ignored and all(value == "1" for _, value in ignored)
    ignored_kernels = " ".join(value for rule, _ in ignored for k, _, _, value in rule if k == "KERNEL")
    assert "ttyACM" in ignored_kernels and "ttyUSB" in ignored_kernels
    # The USB printer class (07) goes to lp, and the usblp node has a stable name.
    assert any('*:0701??:*' in value for rule, _ in assignments(parsed, "GROUP") for _, _, _, value in rule)
    assert "kiosk/printer" in {value for _, value in assignments(parsed, "SYMLINK")}
    # CCID readers (class 0b) kept out of autosuspend.
    power = assignments(parsed, "ATTR", "{power/control}")
    assert power and power[0][1] == "on"
    for rule, _ in assignments(parsed, "MODE"):
        mode = next(value for k, _, op, value in rule if k == "MODE")
        assert mode == "0660", "devices are for their group, never world-writable"
