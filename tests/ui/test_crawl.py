"""The crawler over the whole kiosk (tests/ui/crawler.py): every procedure, action and mode.

`make test` crawls the bundled sample catalog (about 7,800 touches, a few minutes); `make crawl`
sets KIOSK_CRAWL_PROCEDURES=10000 and crawls a synthetic catalog of that many procedures
(kiosk.catalog.sample.build_synthetic), Spanish and English in two processes side by side.
Each run ends with a summary line in pytest's report.
"""

from __future__ import annotations

import os

import pytest

from tests.ui.conftest import CRAWL_SUMMARIES, wake
from tests.ui.crawler import MODES, Crawler, Invariants

CRAWL_PROCEDURES = int(os.environ.get("KIOSK_CRAWL_PROCEDURES", "0") or 0)
# KIOSK_CRAWL_MODES=0,2 crawls those of MODES only: `make crawl` runs one process per language
# side by side (the kiosk's two cores), each with its own app.
CRAWL_MODES = tuple(MODES[int(i)] for i in os.environ.get("KIOSK_CRAWL_MODES", "").split(",") if i.strip()) or MODES


@pytest.fixture
def crawl_snapshot(sample_snapshot, tmp_path_factory):
    if not CRAWL_PROCEDURES:
        return sample_snapshot
    from kiosk.catalog.sample import build_synthetic, write_json
    from kiosk.flows.journey import sample_snapshot as snapshot_from

    path = tmp_path_factory.mktemp("crawl") / "synthetic-catalog.json"
    write_json(build_synthetic(CRAWL_PROCEDURES), path)
    return snapshot_from(["es", "en"], path)


@pytest.fixture
def crawl_app(app, crawl_snapshot, ui):
    """The app showing the catalog to crawl, with payments and the printer ready."""
    from kiosk.ui.tour import wait_for_payments

    app.ctx.catalog.replace(crawl_snapshot)
    wait_for_payments(app.ctx, ui)
    ui.pump_until(lambda: "print" in app.ctx.actions.available, timeout_s=15)
    printer = app.devices.get("printer")
    ui.pump_until(lambda: printer.status().state.value in ("ready", "degraded"), timeout_s=15)
    return app


@pytest.mark.ui
@pytest.mark.crawl
def test_crawl_every_procedure_action_and_mode(crawl_app, crawl_snapshot, ui, clock):
    crawler = Crawler(crawl_app, ui, clock, progress=print)
    summary = crawler.crawl(CRAWL_MODES)
    CRAWL_SUMMARIES.append(summary.line())
    problems = sorted(crawler.problems, key=str)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(str(p) for p in problems[:60])
    assert summary.procedures == set(crawl_snapshot.records), "every procedure page was visited"
    assert summary.modes == [str(mode) for mode in CRAWL_MODES]
    assert crawl_app.guard.caught == 0


def test_the_checks_catch_what_they_promise(catalog_app, ui):
    """Each invariant fails on a view built to break it, and holds on the real home screen."""
    import logging

    from kivy.uix.button import Button
    from kivy.uix.label import Label
    from kivy.uix.modalview import ModalView

    wake(ui)
    invariants = Invariants(catalog_app)
    assert list(invariants.check()) == []
    home = catalog_app.screens["home"]
    title = home.ids.title.text
    home.ids.title.text = "\n".join(["Una línea más"] * 60)  # taller than the screen: pushed under the bar
    ui.pump(2)
    assert [rule for rule, _ in invariants.check()] == ["text_outside"]
    home.ids.title.text = title
    tiny = Button(text="x", size_hint=(None, None), size=(30, 30))
    home.ids.options.add_widget(tiny)
    ui.pump(2)
    assert [rule for rule, _ in invariants.check()] == ["small_target"]
    home.ids.options.remove_widget(tiny)
    stuck = ModalView(size_hint=(0.5, 0.5))
    stuck.add_widget(Label(text="Espere"))
    stuck.open(animation=False)
    ui.pump(2)
    assert [rule for rule, _ in invariants.check()] == ["no_way_on"]
    stuck.dismiss(animation=False)
    ui.pump(2)
    logging.getLogger().addHandler(invariants.errors)
    try:
        logging.getLogger("kiosk.test").error("something.failed")
    finally:
        logging.getLogger().removeHandler(invariants.errors)
    assert [rule for rule, _ in invariants.check()] == ["uncaught_error"]
    assert list(invariants.check()) == []

