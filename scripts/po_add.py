"""Add or update English translations: `python scripts/po_add.py 'Spanish=English' ...`, then `make i18n`."""

import sys
from pathlib import Path

import polib

PO = Path(__file__).resolve().parent.parent / "kiosk" / "locale" / "en" / "LC_MESSAGES" / "kiosk.po"

catalog = polib.pofile(str(PO))
for pair in sys.argv[1:]:
    source, _, target = pair.partition("=")
    entry = catalog.find(source)
    if entry is None:
        catalog.append(polib.POEntry(msgid=source, msgstr=target))
    else:
        entry.msgstr = target
catalog.sort()
catalog.save(str(PO))
