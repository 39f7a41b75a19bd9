"""Every screen and dialog of the real app in the pseudo-language (tests/test_pseudo_locale.py):
no visible text may show a Spanish msgid unwrapped. The tour (kiosk.ui.tour.tour_steps) brings
up each view with real touches, as tests/ui/test_physical_sizes.py measures them. Catalog data
(procedure names, offices) is data, not interface text: it contains no msgid, so it passes.
"""

from __future__ import annotations

import dataclasses

import pytest
from kivy.uix.label import Label

from kiosk.ui.tour import tour_steps, view_names
from tests.test_pseudo_locale import OPEN, PSEUDO, build_pseudo_locale, spanish_msgids, untranslated


@pytest.fixture
def pseudo_app(window, clock, config, sample_snapshot, ui, tmp_path):
    from kiosk.context import build_context
    from kiosk.core.config import LANGUAGE_CODES
    from kiosk.core.i18n import EXTRA_LOCALES
    from kiosk.ui.app import KioskApp
    from kiosk.ui.tour import wait_for_payments

    build_pseudo_locale(tmp_path / "locale")
    kiosk = dataclasses.replace(config.kiosk, language=PSEUDO, languages=("es", PSEUDO))
    app = ui.start_app(KioskApp(build_context(dataclasses.replace(config, kiosk=kiosk), now=clock)))
    try:
        app.ctx.catalog.replace(sample_snapshot)
        wait_for_payments(app.ctx, ui)
        yield app
    finally:
        ui.stop_app(app)
        EXTRA_LOCALES.pop(PSEUDO, None)
        if PSEUDO in LANGUAGE_CODES:
            LANGUAGE_CODES.remove(PSEUDO)


def test_every_view_in_the_pseudo_language_shows_no_untranslated_text(pseudo_app, clock, ui):
    msgids = spanish_msgids()
    seen, problems, wrapped = [], [], 0
    for name in tour_steps(pseudo_app, clock):
        seen.append(name)
        texts = [ui.plain(w.text) for w in ui.walk() if isinstance(w, Label) and ui.visible(w)
                 and ui.plain(w.text).strip()]
        wrapped += sum(text.count(OPEN) for text in texts)
        problems += [f"{name}: {line!r} shows {msgid!r}" for text in texts
                     for line, msgid in untranslated(text, msgids)]
    assert wrapped > 100, "the pseudo-language was not loaded"
    missing = set(view_names()) - set(seen)
    assert not missing, f"the tour did not bring up {sorted(missing)}"
    assert not problems, "\n".join(problems)
