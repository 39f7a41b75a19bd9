"""A pseudo-language proves that every text people read goes through the catalogue.

At test time, in tmp_path, every msgid of the real kiosk.po becomes "⟦" + msgid + "⟧" in a
pseudo-locale `qps`, loaded through `kiosk.core.i18n.register_language`. Any Spanish msgid left
unwrapped in what the kiosk shows was not translated: a hard-coded text, or a branch on the
language. `kiosk diag` runs here; the screens and dialogs in tests/ui/test_pseudo_locale_ui.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import polib
import pytest

from kiosk.core.i18n import EXTRA_LOCALES, LOCALE_DIR, register_language

PSEUDO = "qps"
OPEN, CLOSE = "⟦", "⟧"
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def spanish_msgids() -> list[str]:
    return [entry.msgid for entry in polib.pofile(str(LOCALE_DIR / "en" / "LC_MESSAGES" / "kiosk.po"))
            if entry.msgid and not entry.obsolete]


def build_pseudo_locale(root: Path) -> Path:
    """root/qps/LC_MESSAGES/kiosk.mo with every msgstr the msgid wrapped; registered as `qps`."""
    source = polib.pofile(str(LOCALE_DIR / "en" / "LC_MESSAGES" / "kiosk.po"))
    pseudo = polib.POFile()
    pseudo.metadata = dict(source.metadata, Language=PSEUDO)
    for entry in source:
        if entry.obsolete or not entry.msgid:
            continue
        if entry.msgid_plural:
            pseudo.append(polib.POEntry(msgid=entry.msgid, msgid_plural=entry.msgid_plural, msgstr_plural={
                0: OPEN + entry.msgid + CLOSE, 1: OPEN + entry.msgid_plural + CLOSE}))
        else:
            pseudo.append(polib.POEntry(msgid=entry.msgid, msgstr=OPEN + entry.msgid + CLOSE))
    folder = root / PSEUDO / "LC_MESSAGES"
    folder.mkdir(parents=True)
    pseudo.save(str(folder / "kiosk.po"))
    pseudo.save_as_mofile(str(folder / "kiosk.mo"))
    register_language(PSEUDO, root)
    return root


def unwrapped(text: str) -> str:
    """`text` without its translated (wrapped) parts, innermost first: what was not translated."""
    previous = None
    while previous != text:
        previous, text = text, re.sub(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}", " ", text)
    return text


def fragments(msgid: str) -> list[str]:
    """The literal parts of a msgid between its placeholders that could only come from it: at
    least two words and ten characters (so "OK" or "nada" in a code or a name do not count)."""
    return [part.strip() for part in _PLACEHOLDER.split(msgid)
            if len(part.strip()) >= 10 and " " in part.strip() and re.search(r"[a-záéíóúñ]", part)]


def _whole(part: str) -> re.Pattern[str]:
    """`part` as whole words: "Descuento de" is no match inside "Descuento del predial" (data)."""
    return re.compile(("(?<!\\w)" if part[0].isalnum() else "") + re.escape(part)
                      + ("(?!\\w)" if part[-1].isalnum() else ""))


def untranslated(text: str, msgids: list[str]) -> list[tuple[str, str]]:
    """(line, msgid) for every line that shows part of a msgid outside a translation."""
    patterns = [(msgid, [_whole(part) for part in fragments(msgid)]) for msgid in msgids]
    found = []
    for line in text.splitlines():
        rest = unwrapped(line)
        found += [(line, msgid) for msgid, parts in patterns if any(part.search(rest) for part in parts)]
    return found


@pytest.fixture
def pseudo_locale(tmp_path: Path):
    build_pseudo_locale(tmp_path / "locale")
    yield PSEUDO
    from kiosk.core.config import LANGUAGE_CODES

    EXTRA_LOCALES.pop(PSEUDO, None)
    if PSEUDO in LANGUAGE_CODES:
        LANGUAGE_CODES.remove(PSEUDO)


def test_the_checker_catches_an_untranslated_text():
    msgids = ["La impresora no tiene papel.", "Solo quedan {size} libres en {path}: por debajo de {limit} MB"]
    assert untranslated("[FALLA] printer: La impresora no tiene papel.", msgids)
    assert untranslated("Solo quedan 3 MB libres en /var: por debajo de 50 MB", msgids)
    assert not untranslated("[⟦FALLA⟧] printer: ⟦La impresora no tiene papel.⟧", msgids)
    assert not untranslated("⟦Solo quedan 3 MB libres en /var: por debajo de 50 MB⟧ printer.paper_out", msgids)
    assert not untranslated("Descuento del predial para personas adultas mayores", ["Descuento de {percent} %"])


def test_kiosk_diag_speaks_the_pseudo_language_everywhere(pseudo_locale, tmp_path, capsys):
    from kiosk.cli import main
    from tests.fleet.conftest import write_config

    # No API (an unused loopback port) and a printer out of paper: the report explains failures too.
    offered = {"language": pseudo_locale, "languages": ["es", pseudo_locale]}
    config = write_config(tmp_path, "http://127.0.0.1:9", kiosk=offered,
                          devices={"printer": ("escpos", "sim://?paper=out"), "scanner": ("scanner", "sim://")})
    status = main(["diag", "--config", str(config)])
    output = capsys.readouterr().out
    assert status == 1, output  # the API is down: something needs attention
    assert output.count(OPEN) > 20, output
    assert untranslated(output, spanish_msgids()) == [], output


def test_kiosk_diag_is_spanish_on_a_spanish_kiosk(tmp_path, capsys):
    from kiosk.cli import main
    from tests.fleet.conftest import write_config

    config = write_config(tmp_path, "http://127.0.0.1:9", kiosk={"language": "es"},
                          devices={"printer": ("escpos", "sim://?paper=out")})
    main(["diag", "--config", str(config)])
    output = capsys.readouterr().out
    assert "Requiere atención" in output and "La API municipal en http://127.0.0.1:9" in output, output
    assert "La impresora no tiene papel." in output and "Needs attention" not in output, output
