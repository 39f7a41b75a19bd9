"""Translations through gettext, Spanish first.

Message ids are the Spanish texts; `kiosk/locale/<lang>/LC_MESSAGES/kiosk.po` translates them and
the compiled `.mo` beside it is what runs. Adding a language means adding one `.po` file (and its
endonym below), then `make i18n`. `python -m kiosk.core.i18n compile` rebuilds the `.mo` files;
`python -m kiosk.core.i18n check` lists messages used in code that a language lacks.
"""

from __future__ import annotations

import gettext
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "kiosk"
SOURCE_LANGUAGE = "es"

# Languages are offered by their own names (endonyms), never by flags.
ENDONYMS = {
    "es": "Español",
    "en": "English",
}

# The espeak-ng voice for each language: Latin-American Spanish, not Castilian.
VOICES = {"es": "es-419", "en": "en-us"}


# Languages whose catalogue lives outside LOCALE_DIR (a test pseudo-locale): code -> locale dir.
EXTRA_LOCALES: dict[str, Path] = {}


def register_language(language: str, locale_dir: Path) -> None:
    """Load `language` from `<locale_dir>/<language>/LC_MESSAGES/kiosk.mo` from now on, and accept
    it in `[kiosk] language` (tests build a pseudo-locale this way; a real language is a .po
    file in LOCALE_DIR and a code in kiosk.core.config.LANGUAGE_CODES)."""
    from kiosk.core.config import LANGUAGE_CODES

    EXTRA_LOCALES[language] = locale_dir
    if language not in LANGUAGE_CODES:
        LANGUAGE_CODES.append(language)


class Translator:
    """The active language and its gettext catalog; listeners hear about switches."""

    def __init__(self, language: str = SOURCE_LANGUAGE, locale_dir: Path = LOCALE_DIR):
        self._locale_dir = locale_dir
        self._catalogs: dict[str, gettext.NullTranslations] = {}
        self._listeners: list[Callable[[str], None]] = []
        self.language = language
        self._active = self._catalog(language)

    def _catalog(self, language: str) -> gettext.NullTranslations:
        if language not in self._catalogs:
            self._catalogs[language] = gettext.translation(
                DOMAIN, localedir=str(EXTRA_LOCALES.get(language, self._locale_dir)), languages=[language],
                fallback=True)
        return self._catalogs[language]

    def switch(self, language: str) -> None:
        if language == self.language:
            return
        self.language = language
        self._active = self._catalog(language)
        for listener in list(self._listeners):
            listener(language)

    def add_listener(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def gettext(self, message: str) -> str:
        return self._active.gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return self._active.ngettext(singular, plural, count)

    def has_catalog(self, language: str) -> bool:
        folder = EXTRA_LOCALES.get(language, self._locale_dir)
        return language == SOURCE_LANGUAGE or (folder / language / "LC_MESSAGES" / f"{DOMAIN}.mo").exists()


def endonym(language: str) -> str:
    return ENDONYMS.get(language, language)


# Marks a string for extraction without translating it now (translated when shown).
def N_(message: str) -> str:
    return message


_MESSAGE_CALL = re.compile(r"""\b(?:_|N_|tr\._)\(\s*(?P<q>["'])(?P<text>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*\)""")
# Plural messages: _n("{n} día", "{n} días", n) and the tuples of singular/plural pairs beside them.
_PLURAL_PAIR = re.compile(r"""\(\s*"(?P<singular>[^"]*\{\w+\}[^"]*)",\s*"(?P<plural>[^"]*\{\w+\}[^"]*)"\s*[,)]""")


def messages_in_sources(paths: Iterable[Path]) -> set[str]:
    """Every literal passed to _(), N_() or tr._() in the given .py and .kv files."""
    found: set[str] = set()
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            found |= _messages_in_python(text)
        else:
            found |= {match.group("text") for match in _MESSAGE_CALL.finditer(text)}
        found |= {match.group("singular") for match in _PLURAL_PAIR.finditer(text)}
    return found


def _messages_in_python(text: str) -> set[str]:
    """Through the syntax tree, so "a" "b" split over lines reads as the one message it is."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        first = node.args[0]
        if name in ("_", "N_") and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.add(first.value)
    return found


def source_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for package in ("kiosk", "screens", "devices", "offline_cache"):
        folder = root / package
        if folder.is_dir():
            files += sorted(folder.rglob("*.py")) + sorted(folder.rglob("*.kv"))
    return files


def compile_all(locale_dir: Path = LOCALE_DIR) -> list[Path]:
    import polib  # development dependency: only needed to rebuild .mo files

    written = []
    for po_path in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


def missing_translations(root: Path, locale_dir: Path = LOCALE_DIR) -> dict[str, set[str]]:
    import polib

    used = messages_in_sources(source_files(root))
    missing: dict[str, set[str]] = {}
    for po_path in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        language = po_path.parent.parent.name
        translated = {entry.msgid for entry in polib.pofile(str(po_path))
                      if (entry.msgstr or (all(entry.msgstr_plural.values()) and entry.msgstr_plural))
                      and not entry.obsolete}
        gaps = used - translated
        if gaps:
            missing[language] = gaps
    return missing


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[2]
    if argv[:1] == ["compile"]:
        for path in compile_all():
            print(f"wrote {path.relative_to(root)}")
        return 0
    if argv[:1] == ["check"]:
        gaps = missing_translations(root)
        for language, messages in gaps.items():
            for message in sorted(messages):
                print(f"{language}: missing {message!r}")
        return 1 if gaps else 0
    print("usage: python -m kiosk.core.i18n compile|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
